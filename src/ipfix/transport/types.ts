/**
 * What the exporting process needs from a transport to one collector. Transports are the only code
 * that opens sockets to collectors (UDP: udp.ts, TCP: tcp.ts).
 */
import type { OutMessage } from '../session.js';

/** Outcome callbacks: every message is reported exactly once, as sent or as dropped. */
export interface TransportEvents {
  /** The message reached the socket (kernel send buffer). */
  sent(msg: OutMessage): void;
  /** The message was dropped (socket error, buffer full, closed); `reason` says why. */
  dropped(msg: OutMessage, reason: string, err?: unknown): void;
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
