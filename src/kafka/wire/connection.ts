/**
 * One TCP (or TLS) connection to one broker for ctflow's own requests (wire/): the only module of wire/ that
 * touches a socket. Framing per the protocol guide ("Common Request and Response Structure"):
 *
 *   RequestOrResponse => Size (INT32) RequestMessage | ResponseMessage
 *   Request Header v1 => request_api_key INT16, request_api_version INT16, correlation_id INT32,
 *                        client_id NULLABLE_STRING
 *   Response Header v0 => correlation_id INT32
 *
 * Only non-flexible request versions are sent, so headers v1/v0 suffice. Requests may be pipelined: the
 * broker answers in order on a connection. A response is collected into one buffer sized from its length
 * prefix and handed out whole. On plaintext connections the socket reads straight into that buffer once its
 * length is known (`onread` with a buffer per read: no chunk allocated, copied and pushed through a stream
 * per 64 KiB of an 8 MiB fetch); the bytes before it (length prefix, small responses) are read into one
 * reused scratch buffer and copied. TLS sockets do not take `onread`: their chunks are copied.
 */
import net from 'node:net';
import tls from 'node:tls';
import { CtflowError } from '../../errors.js';
import { ByteWriter } from './bytes.js';

/** Where a broker listens. */
export interface BrokerAddress {
  host: string;
  port: number;
}

/** How to reach brokers. */
export interface ConnectionSettings {
  clientId: string;
  /** TLS options (true: system CAs), or undefined for plaintext. */
  tls?: tls.ConnectionOptions | true;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

interface Pending {
  correlationId: number;
  resolve: (body: Buffer) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  what: string;
}

/** Largest response accepted (a fetch is capped by its max_bytes; this guards against garbage lengths). */
const MAX_RESPONSE = 1 << 30;

/** Scratch read size while no response body is pending (length prefixes, small responses). */
const SCRATCH_BYTES = 64 * 1024;

/**
 * Cuts the byte stream of one connection into responses. Reads land either in `scratch` (copied out, as
 * chunks of a 'data' event are) or, while a response body is pending, directly in the rest of that body.
 */
class ResponseFramer {
  readonly #scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  #sizeBytes = Buffer.alloc(4);
  #sizeFilled = 0;
  #frame: Buffer | undefined;
  #frameFilled = 0;
  /** Set by the connection: a whole response (correlation id first), or a framing error. */
  deliver: (frame: Buffer) => void = () => {};
  fail: (err: Error) => void = () => {};

  /** Where the socket reads next (`onread.buffer`, called before each read). */
  nextBuffer(): Buffer {
    const frame = this.#frame;
    return frame === undefined ? this.#scratch : frame.subarray(this.#frameFilled);
  }

  /** `onread.callback`: `n` bytes were read into `buf` (a buffer nextBuffer() returned). */
  onRead(n: number, buf: Buffer): void {
    if (buf === this.#scratch) {
      this.onChunk(buf.subarray(0, n));
      return;
    }
    // Read in place into the pending body (nextBuffer() gave at most its missing bytes).
    this.#frameFilled += n;
    const frame = this.#frame;
    if (frame !== undefined && this.#frameFilled === frame.length) {
      this.#frame = undefined;
      this.deliver(frame);
    }
  }

  /** Bytes that arrived in a chunk not kept afterwards (copied out). */
  onChunk(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#frame === undefined) {
        const n = Math.min(4 - this.#sizeFilled, chunk.length - at);
        chunk.copy(this.#sizeBytes, this.#sizeFilled, at, at + n);
        this.#sizeFilled += n;
        at += n;
        if (this.#sizeFilled < 4) return;
        const size = this.#sizeBytes.readInt32BE(0);
        this.#sizeFilled = 0;
        if (size < 4 || size > MAX_RESPONSE) {
          this.fail(new Error(`response length ${size} out of range`));
          return;
        }
        this.#frame = Buffer.allocUnsafe(size);
        this.#frameFilled = 0;
      }
      const frame = this.#frame;
      const n = Math.min(frame.length - this.#frameFilled, chunk.length - at);
      chunk.copy(frame, this.#frameFilled, at, at + n);
      this.#frameFilled += n;
      at += n;
      if (this.#frameFilled === frame.length) {
        this.#frame = undefined;
        this.deliver(frame);
      }
    }
  }
}

/** A connected broker. */
export class BrokerConnection {
  readonly address: BrokerAddress;
  readonly #socket: net.Socket;
  readonly #settings: ConnectionSettings;
  readonly #pending: Pending[] = [];
  #nextId = 1;
  #closed: Error | undefined;

  private constructor(
    address: BrokerAddress,
    socket: net.Socket,
    settings: ConnectionSettings,
    framer: ResponseFramer,
  ) {
    this.address = address;
    this.#socket = socket;
    this.#settings = settings;
    framer.deliver = (frame) => this.#deliver(frame);
    framer.fail = (err) => this.#fail(err);
    // Plaintext sockets read through `onread` (set at connect); TLS ones emit chunks.
    if (settings.tls !== undefined) socket.on('data', (chunk: Buffer) => framer.onChunk(chunk));
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => this.#fail(new Error('connection closed by the broker')));
  }

  /** Opens a connection; rejects with CtflowError KAFKA (retriable) when it cannot. */
  static connect(address: BrokerAddress, settings: ConnectionSettings): Promise<BrokerConnection> {
    return new Promise((resolve, reject) => {
      const where = `${address.host}:${address.port}`;
      const options = { host: address.host, port: address.port };
      const framer = new ResponseFramer();
      const socket =
        settings.tls === undefined
          ? net.connect({
              ...options,
              onread: {
                buffer: () => framer.nextBuffer(),
                // true: keep reading (false would pause the socket).
                callback: (n: number, buf: Uint8Array) => {
                  framer.onRead(n, buf as Buffer);
                  return true;
                },
              },
            })
          : tls.connect({
              ...options,
              ...(settings.tls === true ? {} : settings.tls),
              servername:
                (settings.tls === true ? undefined : settings.tls.servername) ??
                (net.isIP(address.host) ? '' : address.host),
            });
      const event = settings.tls === undefined ? 'connect' : 'secureConnect';
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new CtflowError(
            'KAFKA',
            `cannot connect to broker ${where}: no answer in ${settings.connectTimeoutMs} ms`,
            {
              details: { broker: where },
              retriable: true,
            },
          ),
        );
      }, settings.connectTimeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(
          new CtflowError('KAFKA', `cannot connect to broker ${where}: ${err.message}`, {
            details: { broker: where },
            cause: err,
            retriable: true,
          }),
        );
      };
      socket.once('error', onError);
      socket.once(event, () => {
        clearTimeout(timer);
        socket.off('error', onError);
        socket.setNoDelay(true);
        resolve(new BrokerConnection(address, socket, settings, framer));
      });
    });
  }

  /**
   * Sends one request and resolves with the response body (after the correlation id). `what` names the
   * request in errors. Rejects with CtflowError KAFKA (retriable) on timeout or a lost connection.
   */
  request(apiKey: number, version: number, body: Buffer, what: string, timeoutMs?: number): Promise<Buffer> {
    if (this.#closed !== undefined) return Promise.reject(this.#lost(what, this.#closed));
    const correlationId = this.#nextId++ & 0x7fffffff;
    const header = new ByteWriter()
      .int32(0)
      .int16(apiKey)
      .int16(version)
      .int32(correlationId)
      .string(this.#settings.clientId)
      .bytes();
    header.writeInt32BE(header.length - 4 + body.length, 0);
    const ms = timeoutMs ?? this.#settings.requestTimeoutMs;
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        // The answer may still come: the stream can no longer be trusted, drop the connection.
        const err = new CtflowError('KAFKA', `${what}: no answer from broker ${this.#where()} in ${ms} ms`, {
          details: { broker: this.#where(), timeoutMs: ms },
          retriable: true,
        });
        this.#fail(err);
      }, ms);
      this.#pending.push({ correlationId, resolve, reject, timer, what });
      this.#socket.write(Buffer.concat([header, body]));
    });
  }

  /** Closes the connection; requests in flight reject. */
  close(): void {
    this.#fail(new Error('connection closed'));
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  #where(): string {
    return `${this.address.host}:${this.address.port}`;
  }

  #lost(what: string, cause: Error): CtflowError {
    if (cause instanceof CtflowError) return cause;
    return new CtflowError('KAFKA', `${what}: connection to broker ${this.#where()} lost: ${cause.message}`, {
      details: { broker: this.#where() },
      cause,
      retriable: true,
    });
  }

  #fail(err: Error): void {
    if (this.#closed === undefined) this.#closed = err;
    this.#socket.destroy();
    for (const p of this.#pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(this.#lost(p.what, err));
    }
  }

  #deliver(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const p = this.#pending.shift();
    if (p === undefined || p.correlationId !== correlationId) {
      if (p !== undefined) this.#pending.unshift(p);
      this.#fail(
        new Error(`unexpected correlation id ${correlationId} (expected ${p?.correlationId ?? 'none'})`),
      );
      return;
    }
    clearTimeout(p.timer);
    p.resolve(frame.subarray(4));
  }
}
