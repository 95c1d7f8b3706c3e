import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { CollectorTransport } from './types.js';

/** Loopback address every collector of the rig binds to. */
export const RIG_HOST = '127.0.0.1';

/**
 * A port the kernel just handed out on 127.0.0.1 for `transport`, released again for a collector to
 * bind. (A tiny race with other binders remains; collectors are started one at a time.)
 */
export async function freePort(transport: CollectorTransport): Promise<number> {
  if (transport === 'udp') {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, RIG_HOST, () => resolve());
    });
    const { port } = socket.address();
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    return port;
  }
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, RIG_HOST, () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('freePort: no TCP address');
  return address.port;
}

/** TCP state LISTEN in /proc/net/tcp (include/net/tcp_states.h). */
const TCP_LISTEN = '0A';

/**
 * True when some socket is bound (UDP) or listening (TCP) on `port`, read from /proc/net: a
 * deterministic readiness check for collectors that print nothing when they start listening.
 */
export async function isListening(transport: CollectorTransport, port: number): Promise<boolean> {
  const files =
    transport === 'udp' ? ['/proc/net/udp', '/proc/net/udp6'] : ['/proc/net/tcp', '/proc/net/tcp6'];
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue; // no IPv6 on this machine
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      const state = cols[3];
      if (local === undefined || !local.endsWith(`:${hexPort}`)) continue;
      if (transport === 'udp' || state === TCP_LISTEN) return true;
    }
  }
  return false;
}

/** The canonical text form of an IP address (IPv6 compressed, lower case), so collectors compare equal. */
export function canonicalIp(address: string): string {
  if (!address.includes(':')) return address;
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** The IANA element name of a source/destination address, chosen by its family. */
export function addressField(side: 'source' | 'destination', address: string): string {
  return `${side}${address.includes(':') ? 'IPv6' : 'IPv4'}Address`;
}
