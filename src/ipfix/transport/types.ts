/**
 * What the exporting process needs from a transport to one collector. Transports are the only code
 * that opens sockets to collectors (UDP: udp.ts, TCP: tcp.ts).
 */
import type { OutMessage } from '../session.js';

/**
 * Outcome callbacks: every message is reported once as sent or as dropped; a sent message may then be
 * reported as resent (each time it is written again after a connection loss) and, at most once, as lost.
 */
export interface TransportEvents {
  /** The message reached the socket (kernel send buffer) for the first time. */
  sent(msg: OutMessage): void;
  /** The message never reached a socket and never will (buffer full, send error, closed); `reason` says why. */
  dropped(msg: OutMessage, reason: string, err?: unknown): void;
  /**
   * Stream transports: a sent message was written again on a new connection because the one it was written
   * on failed within its resend window; the collector may have read it before (a possible duplicate).
   */
  resent(msg: OutMessage): void;
  /**
   * A sent message the collector may or may not have, at most once per message. Stream transports: its
   * connection failed within its resend window and it could not be written again (the transport was
   * closed first). UDP: the collector's port answered a datagram with ICMP port unreachable (the newest
   * datagram sent is reported).
   */
  lost(msg: OutMessage, reason: string, err?: unknown): void;
  /** A socket error that did not stop the transport (counted, logged by the caller). */
  error(err: unknown): void;
}

/** A transport session to one collector. */
export interface Transport {
  /** Hands a message over (never throws, never blocks). */
  send(msg: OutMessage): void;
  /** Resolves when every message handed over so far was reported as sent or dropped, or is waiting in the reconnect buffer. */
  idle(): Promise<void>;
  /** Stops: closes the socket; what is still buffered is reported as dropped. */
  close(): Promise<void>;
  /** True while a TCP connection is up (always true for UDP once the address is resolved). */
  readonly connected: boolean;
}
