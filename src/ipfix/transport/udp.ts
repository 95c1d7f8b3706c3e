/**
 * UDP transport to one collector (RFC 7011 §10.3). A connected datagram socket, so that an ICMP port
 * unreachable (collector restarting) comes back: as a failed send (that message is counted as dropped)
 * or on the receive path (the newest message sent is counted as lost); the next one is sent as usual.
 * No error ever stops the transport.
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import { CtflowError } from '../../errors.js';
import type { OutMessage } from '../session.js';
import type { Transport, TransportEvents } from './types.js';

/** Settings of a UDP transport. */
export interface UdpTransportOptions {
  readonly host: string;
  readonly port: number;
  readonly events: TransportEvents;
  /** Messages waiting for the socket (before it is connected, or inside libuv) beyond which new ones are dropped. Default 1024. */
  readonly maxInFlight?: number;
  /** Delay before retrying a failed connect (e.g. unresolvable host), ms. Default 1000. */
  readonly retryMs?: number;
}

/** Opens a UDP transport; it connects in the background and never throws after this returns. */
export function createUdpTransport(o: UdpTransportOptions): Transport {
  const maxInFlight = o.maxInFlight ?? 1024;
  const waiting: OutMessage[] = [];
  let inFlight = 0;
  let ready = false;
  // After a failed connect, waiting messages count as buffered (idle() does not wait for a retry).
  let failed = false;
  let closed = false;
  let idleWaiters: (() => void)[] = [];
  let retry: NodeJS.Timeout | undefined;
  const family = isIP(o.host) === 4 ? 'udp4' : isIP(o.host) === 6 ? 'udp6' : undefined;

  const settle = (): void => {
    if (inFlight === 0 && (waiting.length === 0 || failed || closed)) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    }
  };

  const transmit = (msg: OutMessage): void => {
    inFlight++;
    try {
      socket.send(msg.buf, (err) => {
        inFlight--;
        if (err) o.events.dropped(msg, 'send failed', err);
        else {
          o.events.sent(msg);
          lastSent = msg;
        }
        settle();
      });
    } catch (err) {
      inFlight--;
      o.events.dropped(msg, 'send failed', err);
      settle();
    }
  };

  /** The newest message sent and not yet reported lost (see the socket's error handler). */
  let lastSent: OutMessage | undefined;
  let socket = open();

  function open(): dgram.Socket {
    const s = dgram.createSocket({ type: family ?? 'udp6' });
    s.on('error', (err) => {
      // A connected UDP socket learns of an ICMP port unreachable through its pending error, which
      // whichever comes first takes: the next send (that message then fails, counted as dropped) or
      // libuv's receive path (here). Here the datagram that bounced was already counted as sent: the
      // newest one is reported lost (once), so a collector that is down shows as lost records
      // whichever path saw it, instead of only when two sends happen to be back to back.
      if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED' && lastSent !== undefined) {
        o.events.lost(lastSent, 'collector port unreachable (ICMP)', err);
        lastSent = undefined;
      }
      o.events.error(
        new CtflowError('TRANSPORT', `udp://${o.host}:${o.port}: ${err.message}`, {
          cause: err,
          retriable: true,
        }),
      );
    });
    s.connect(o.port, o.host, () => {
      ready = true;
      for (const m of waiting.splice(0)) transmit(m);
      settle();
    });
    s.once('error', () => {
      if (ready || closed) return;
      failed = true;
      settle();
      // Connect failed (e.g. name not resolvable): try again later with a fresh socket.
      s.close();
      retry = setTimeout(() => {
        retry = undefined;
        if (!closed) socket = open();
      }, o.retryMs ?? 1000);
      retry.unref();
    });
    return s;
  }

  return {
    get connected() {
      return ready && !closed;
    },
    send(msg) {
      if (closed) {
        o.events.dropped(msg, 'transport closed');
        return;
      }
      if (inFlight + waiting.length >= maxInFlight) {
        o.events.dropped(msg, 'send buffer full');
        return;
      }
      if (!ready) waiting.push(msg);
      else transmit(msg);
    },
    idle() {
      if (inFlight === 0 && (waiting.length === 0 || failed)) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async close() {
      if (closed) return;
      await this.idle();
      closed = true;
      ready = false;
      if (retry) clearTimeout(retry);
      for (const m of waiting.splice(0)) o.events.dropped(m, 'transport closed');
      await new Promise<void>((resolve) => {
        try {
          socket.close(() => resolve());
        } catch {
          resolve();
        }
      });
      settle();
    },
  };
}
