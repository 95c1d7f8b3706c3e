/**
 * TCP transport to one collector (RFC 7011 §10.4). Reconnects with exponential backoff; on every
 * (re)connect the session's templates go out before anything else (§8: templates before data; a new
 * connection is a new transport session for the collector). While the collector is unreachable or
 * slow, messages wait in a bounded buffer; what does not fit is dropped and reported, never silently.
 * The same logic carries TLS (tls.ts): only how a connection is opened differs (a {@link Dialer}).
 */
import net from 'node:net';
import { CtflowError } from '../../errors.js';
import type { OutMessage } from '../session.js';
import type { Transport, TransportEvents } from './types.js';

/** Settings of a TCP transport. */
export interface TcpTransportOptions {
  readonly host: string;
  readonly port: number;
  readonly events: TransportEvents;
  /**
   * Called on each connect, before queued messages are written: the messages to send first (the
   * templates). `firstQueuedSeq(domain)` is the sequence number of the first queued message of that domain.
   */
  readonly onConnect: (firstQueuedSeq: (domain: number) => number | undefined) => OutMessage[];
  /** Octets waiting (our queue plus the socket's) beyond which new messages are dropped. Default 8 MiB. */
  readonly bufferBytes?: number;
  /** First reconnect delay, ms (doubles up to reconnectMaxMs). Default 100. */
  readonly reconnectMinMs?: number;
  /** Default 30000. */
  readonly reconnectMaxMs?: number;
  /** Connect timeout, ms. Default 5000. */
  readonly connectTimeoutMs?: number;
}

/**
 * Opens one connection to the collector and calls `ready` once it can carry IPFIX messages (TCP: connected;
 * TLS: handshake done and the peer accepted). Errors are reported by the socket's 'error' event.
 */
export type Dialer = (ready: () => void) => net.Socket;

/** Opens a TCP transport; it connects in the background and never throws after this returns. */
export function createTcpTransport(o: TcpTransportOptions): Transport {
  return createStreamTransport(o, 'tcp', (ready) => {
    const s = net.connect({ host: o.host, port: o.port });
    s.once('connect', ready);
    return s;
  });
}

/**
 * A stream transport over connections made by `dial`: framing is the stream itself (IPFIX messages carry
 * their length), plus reconnect, backoff, the bounded buffer and templates first on every connection.
 * `scheme` names it in errors (tcp, tls).
 */
export function createStreamTransport(o: TcpTransportOptions, scheme: string, dial: Dialer): Transport {
  const limit = o.bufferBytes ?? 8 * 1024 * 1024;
  const minMs = o.reconnectMinMs ?? 100;
  const maxMs = o.reconnectMaxMs ?? 30_000;
  let queue: OutMessage[] = [];
  let queuedBytes = 0;
  let socket: net.Socket | null = null;
  let up = false;
  let closed = false;
  let pending = 0;
  let delay = minMs;
  let timer: NodeJS.Timeout | undefined;
  let idleWaiters: (() => void)[] = [];

  const isIdle = (): boolean => pending === 0 && (queue.length === 0 || !up);
  const settle = (): void => {
    if (!isIdle()) return;
    const w = idleWaiters;
    idleWaiters = [];
    for (const f of w) f();
  };

  const write = (s: net.Socket, msg: OutMessage): void => {
    pending++;
    s.write(msg.buf, (err) => {
      pending--;
      if (err) o.events.dropped(msg, 'connection lost', err);
      else o.events.sent(msg);
      settle();
    });
  };

  const pump = (): void => {
    const s = socket;
    if (!up || s === null) return;
    let k = 0;
    while (k < queue.length && s.writableLength < limit) {
      const m = queue[k++]!;
      queuedBytes -= m.buf.length;
      write(s, m);
    }
    queue = k === 0 ? queue : queue.slice(k);
    settle();
  };

  const connect = (): void => {
    timer = undefined;
    if (closed) return;
    const s = dial(() => {
      if (socket !== s || closed || s.destroyed) return;
      s.setTimeout(0);
      delay = minMs;
      // Still "down" while the templates are built: a message the session finishes meanwhile is queued
      // behind them, never written ahead of them.
      const first = o.onConnect((domain) => queue.find((m) => m.domain === domain)?.sequence);
      up = true;
      for (const m of first) write(s, m);
      pump();
    });
    socket = s;
    s.setNoDelay(true);
    s.setTimeout(o.connectTimeoutMs ?? 5000, () => {
      if (!up) s.destroy(new Error('connect timeout'));
    });
    s.on('drain', pump);
    s.on('error', (err) => {
      o.events.error(
        new CtflowError('TRANSPORT', `${scheme}://${o.host}:${o.port}: ${err.message}`, {
          cause: err,
          retriable: true,
        }),
      );
    });
    s.on('close', () => {
      up = false;
      if (socket === s) socket = null;
      settle();
      if (closed) return;
      timer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, maxMs);
    });
  };
  connect();

  return {
    get connected() {
      return up;
    },
    send(msg) {
      if (closed) {
        o.events.dropped(msg, 'transport closed');
        return;
      }
      const inSocket = up && socket !== null ? socket.writableLength : 0;
      if (up && socket !== null && queue.length === 0 && inSocket + msg.buf.length <= limit) {
        write(socket, msg);
        return;
      }
      if (queuedBytes + inSocket + msg.buf.length > limit) {
        o.events.dropped(msg, 'buffer full');
        return;
      }
      queue.push(msg);
      queuedBytes += msg.buf.length;
    },
    idle() {
      if (isIdle()) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async close() {
      if (closed) return;
      if (up) await this.idle();
      closed = true;
      if (timer) clearTimeout(timer);
      for (const m of queue) o.events.dropped(m, 'transport closed');
      queue = [];
      queuedBytes = 0;
      const s = socket;
      if (s !== null) {
        await new Promise<void>((resolve) => {
          s.once('close', () => resolve());
          s.end();
          setTimeout(() => s.destroy(), 2000).unref();
        });
      }
      settle();
    },
  };
}
