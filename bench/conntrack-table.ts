/** What the benchmarks that need a big conntrack table share: filling it, and reading a process's memory. */
import { readFileSync } from 'node:fs';
import { run } from '../test/rig/exec.js';
import { inNetns, RIG_ADDRESSES } from '../test/rig/netns.js';

/** Fills the namespace's table with `n` UDP entries (distinct destination ports from a few sockets). */
export async function fillUdpEntries(ns: string, n: number): Promise<void> {
  const script = `
    const dgram = require('dgram');
    const n = ${n}; const perSocket = 50000; const payload = Buffer.alloc(1);
    (async () => {
      for (let s = 0; s * perSocket < n; s++) {
        const sock = dgram.createSocket('udp4');
        await new Promise((r) => sock.bind(0, r));
        const count = Math.min(perSocket, n - s * perSocket);
        for (let i = 0; i < count; i++) {
          sock.send(payload, 1024 + i, '${RIG_ADDRESSES.peerV4}');
          if (i % 2000 === 1999) await new Promise((r) => setImmediate(r));
        }
        await new Promise((r) => setTimeout(r, 200));
        sock.close();
      }
    })();`;
  await run(inNetns(ns, [process.execPath, '-e', script]), { timeoutMs: 300_000 });
}

/** VmRSS and VmHWM of a process, bytes; null when it is gone. */
export function processRss(pid: number): { rss: number; peak: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string): number =>
      Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return null;
  }
}
