/**
 * TCP transport to one collector (RFC 7011 §10.4). Reconnects with exponential backoff; on every
 * (re)connect the session's templates go out before anything else (§8: templates before data; a new
 * connection is a new transport session for the collector). While the collector is unreachable or
 * slow, messages wait in a bounded buffer; what does not fit is dropped and reported, never silently.
 * The same logic carries TLS (tls.ts): only how a connection is opened differs (a {@link Dialer}).
 *
 * A completed write only means the kernel took the bytes: when the collector goes away, what it had not
 * read yet, and what we wrote before we saw it go, is lost with the connection (IPFIX over TCP has no
 * acknowledgement, RFC 7011 §10.4.1). So every message written stays in the connection's resend window
 * until `resendWindowMs` after its write completed plus one turn of the event loop without the
 * connection failing; when it fails, the window goes back to the front of the queue and is written again
 * on the next connection, after the templates and with its original sequence numbers (the collector can
 * tell a repeated message by them). At least once: a message the collector did read may come twice, and
 * is counted as resent; a written message that cannot be written again before close() is counted as lost.
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
  /**
   * How long a written message is kept to be written again if the connection fails: at least the time a
   * collector's close (FIN) or reset takes to reach us. Default 250 ms. The window never holds more than
   * `bufferBytes` (the oldest completed writes leave it first).
   */
  readonly resendWindowMs?: number;
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

/** One message written on a connection, until it leaves the resend window. */
interface Written {
  readonly msg: OutMessage;
  /** Date.now() when the write completed; -1 while it is pending or when it failed. */
  doneAt: number;
  /** Its connection closed before the write completed: the message is back in the queue already. */
  detached: boolean;
}

/** One connection and the messages written on it that may still be lost with it. */
interface Connection {
  readonly socket: net.Socket;
  /** The collector closed or reset it, or it failed: nothing more is written on it or confirmed. */
  lost: boolean;
  /** Written messages in write order from `head` (earlier ones were confirmed). */
  window: Written[];
  head: number;
  windowBytes: number;
  /** A confirmation is scheduled. */
  armed: boolean;
}

/**
 * A stream transport over connections made by `dial`: framing is the stream itself (IPFIX messages carry
 * their length), plus reconnect, backoff, the bounded buffer, the resend window and templates first on
 * every connection. `scheme` names it in errors (tcp, tls).
 */
export function createStreamTransport(o: TcpTransportOptions, scheme: string, dial: Dialer): Transport {
  const limit = o.bufferBytes ?? 8 * 1024 * 1024;
  const minMs = o.reconnectMinMs ?? 100;
  const maxMs = o.reconnectMaxMs ?? 30_000;
  const windowMs = o.resendWindowMs ?? 250;
  let queue: OutMessage[] = [];
  let queuedBytes = 0;
  let conn: Connection | null = null;
  let up = false;
  let closed = false;
  let pending = 0;
  let delay = minMs;
  let timer: NodeJS.Timeout | undefined;
  let idleWaiters: (() => void)[] = [];
  /**
   * Queued messages that were written whole before, on a connection that then failed (counted as sent
   * then): written again they are resent, given up they are lost. Only filled at a connection loss.
   */
  const again = new Set<OutMessage>();

  const isIdle = (): boolean => pending === 0 && (queue.length === 0 || !up);
  const settle = (): void => {
    if (!isIdle()) return;
    const w = idleWaiters;
    idleWaiters = [];
    for (const f of w) f();
  };

  /** Gives a message up: lost when it may have reached the collector before, dropped when it never did. */
  const giveUp = (msg: OutMessage, reason: string, err?: unknown): void => {
    if (again.delete(msg)) o.events.lost(msg, reason, err);
    else o.events.dropped(msg, reason, err);
  };

  /**
   * Confirms the completed writes at the front of the window that completed before `cutoff`, and more of
   * them while the window holds more than `maxBytes`.
   */
  const confirm = (c: Connection, cutoff: number, maxBytes = Number.POSITIVE_INFINITY): void => {
    const w = c.window;
    while (c.head < w.length) {
      const e = w[c.head]!;
      if (e.doneAt < 0 || (e.doneAt > cutoff && c.windowBytes <= maxBytes)) break;
      c.windowBytes -= e.msg.buf.length;
      c.head++;
    }
    if (c.head > 1024 && c.head * 2 > w.length) {
      c.window = w.slice(c.head);
      c.head = 0;
    }
  };

  /**
   * Schedules the confirmation of the oldest completed write: `windowMs` after it completed, then one
   * more turn of the event loop (setImmediate runs after the poll phase), so that a close or reset that
   * had reached our socket by then is seen before the message leaves the window.
   */
  const arm = (c: Connection): void => {
    if (c.armed || c.lost || c.head >= c.window.length) return;
    const first = c.window[c.head]!;
    if (first.doneAt < 0) return; // armed again when its write completes
    c.armed = true;
    const t = setTimeout(
      () => {
        const cutoff = Date.now() - windowMs;
        setImmediate(() => {
          c.armed = false;
          if (c.lost) return;
          confirm(c, cutoff);
          arm(c);
        });
      },
      Math.max(0, first.doneAt + windowMs - Date.now()),
    );
    t.unref();
  };

  const write = (c: Connection, msg: OutMessage): void => {
    const e: Written = { msg, doneAt: -1, detached: false };
    c.window.push(e);
    c.windowBytes += msg.buf.length;
    pending++;
    c.socket.write(msg.buf, (err) => {
      pending--;
      if (!err) {
        e.doneAt = Date.now();
        if (again.delete(msg)) o.events.resent(msg);
        else o.events.sent(msg);
        if (e.detached) {
          // Completed after its connection closed (it is queued again): the next write is a resend.
          again.add(msg);
          settle();
          return;
        }
        // The window is bounded like the buffer: past it, the oldest completed writes leave unconfirmed.
        if (c.windowBytes > limit) confirm(c, Number.NEGATIVE_INFINITY, limit);
        arm(c);
      }
      // A failed write fails the connection: the message goes back to the queue when it closes.
      settle();
    });
  };

  const pump = (): void => {
    const c = conn;
    if (!up || c === null) return;
    let k = 0;
    while (k < queue.length && c.socket.writableLength < limit) {
      const m = queue[k++]!;
      queuedBytes -= m.buf.length;
      write(c, m);
    }
    queue = k === 0 ? queue : queue.slice(k);
    settle();
  };

  /** The collector closed or reset the connection, or it failed: stop writing on it. */
  const lose = (c: Connection): void => {
    if (c.lost) return;
    c.lost = true;
    if (conn === c) up = false;
  };

  /**
   * The connection closed: what is still in its window goes back to the front of the queue, in write
   * order (so sequence numbers stay in order), to be written again after the next connection's templates.
   * Template-only messages are not: every connection starts with fresh ones.
   */
  const requeue = (c: Connection): void => {
    const back: OutMessage[] = [];
    for (let k = c.head; k < c.window.length; k++) {
      const e = c.window[k]!;
      const m = e.msg;
      if (e.doneAt >= 0) again.add(m);
      else e.detached = true;
      if (m.dataRecords > 0) {
        back.push(m);
        queuedBytes += m.buf.length;
      } else again.delete(m);
    }
    c.window = [];
    c.head = 0;
    c.windowBytes = 0;
    if (back.length > 0) queue = back.concat(queue);
  };

  const connect = (): void => {
    timer = undefined;
    if (closed) return;
    const s = dial(() => {
      if (conn !== c || closed || c.lost || s.destroyed) return;
      s.setTimeout(0);
      delay = minMs;
      // Still "down" while the templates are built: a message the session finishes meanwhile is queued
      // behind them, never written ahead of them.
      const first = o.onConnect((domain) => queue.find((m) => m.domain === domain)?.sequence);
      up = true;
      for (const m of first) write(c, m);
      pump();
    });
    const c: Connection = { socket: s, lost: false, window: [], head: 0, windowBytes: 0, armed: false };
    conn = c;
    s.setNoDelay(true);
    s.setTimeout(o.connectTimeoutMs ?? 5000, () => {
      if (!up) s.destroy(new Error('connect timeout'));
    });
    s.on('drain', pump);
    // The collector closed its side: whatever it had not read, and whatever we write from now on, is lost.
    s.on('end', () => {
      if (!closed) lose(c);
    });
    s.on('error', (err) => {
      lose(c);
      o.events.error(
        new CtflowError('TRANSPORT', `${scheme}://${o.host}:${o.port}: ${err.message}`, {
          cause: err,
          retriable: true,
        }),
      );
    });
    s.on('close', () => {
      const failed = c.lost;
      lose(c);
      if (conn === c) conn = null;
      if (closed) {
        // Our close(): a clean close means the collector read up to our end; a failed one may have lost
        // the window.
        if (failed) {
          for (let k = c.head; k < c.window.length; k++) {
            const e = c.window[k]!;
            if (e.doneAt >= 0) again.add(e.msg);
            if (e.msg.dataRecords > 0) giveUp(e.msg, 'connection lost at close');
            else again.delete(e.msg);
          }
        }
        c.window = [];
      } else {
        requeue(c);
      }
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
      const c = conn;
      const inSocket = up && c !== null ? c.socket.writableLength : 0;
      if (up && c !== null && queue.length === 0 && inSocket + msg.buf.length <= limit) {
        write(c, msg);
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
      for (const m of queue) giveUp(m, 'transport closed');
      queue = [];
      queuedBytes = 0;
      const c = conn;
      if (c !== null) {
        await new Promise<void>((resolve) => {
          c.socket.once('close', () => resolve());
          c.socket.end();
          setTimeout(() => c.socket.destroy(), 2000).unref();
        });
      }
      settle();
    },
  };
}
