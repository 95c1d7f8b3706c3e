/**
 * The agent's optional on-disk spool: where messages go when the memory buffer is full while Kafka is
 * unreachable. Append-only, FIFO, bounded; survives an agent restart (replayed first). A message read
 * twice after a crash is harmless: the flow engine ignores duplicate observations.
 *
 * Record layout: kind u8 | partition i32 (-1 = by key) | key length u32 | key | value length u32 | value.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { CtflowError } from '../errors.js';

/** One message waiting to be published. */
export interface QueuedMessage {
  kind: 'observation' | 'watermark';
  /** Explicit partition, or -1 to partition by key. */
  partition: number;
  key: Buffer | null;
  value: Buffer;
}

/** Bytes a message takes in memory accounting and in the spool. */
export function messageSize(m: QueuedMessage): number {
  return 13 + (m.key?.length ?? 0) + m.value.length;
}

/** A bounded FIFO file of messages. */
export class Spool {
  readonly path: string;
  private readonly fd: number;
  private writePos: number;
  private readPos = 0;
  private count = 0;

  constructor(
    dir: string,
    private readonly maxBytes: number,
  ) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, 'ctflow-agent.spool');
    const existed = existsSync(this.path);
    try {
      this.fd = openSync(this.path, existed ? 'r+' : 'w+');
    } catch (err) {
      throw new CtflowError(
        'CONFIG_INVALID',
        `agent spool ${this.path} cannot be opened: ${(err as Error).message}`,
        {
          details: { path: this.path },
          cause: err,
        },
      );
    }
    this.writePos = fstatSync(this.fd).size;
    // Count what an earlier run left, so it is published first.
    for (let pos = 0; pos < this.writePos; ) {
      const m = this.readAt(pos);
      if (m === null) {
        // A torn last record (crash mid-write): cut it off.
        ftruncateSync(this.fd, pos);
        this.writePos = pos;
        break;
      }
      pos += messageSize(m.message);
      this.count++;
    }
  }

  /** Messages waiting in the spool. */
  get size(): number {
    return this.count;
  }

  /** Bytes waiting in the spool. */
  get bytes(): number {
    return this.writePos - this.readPos;
  }

  /** Appends a message; false when the spool is full (the caller drops and counts it). */
  append(m: QueuedMessage): boolean {
    const size = messageSize(m);
    if (this.writePos - this.readPos + size > this.maxBytes) return false;
    const buf = Buffer.allocUnsafe(size);
    let o = buf.writeUInt8(m.kind === 'observation' ? 0 : 1, 0);
    o = buf.writeInt32BE(m.partition, o);
    o = buf.writeUInt32BE(m.key?.length ?? 0xffffffff, o);
    if (m.key) o += m.key.copy(buf, o);
    o = buf.writeUInt32BE(m.value.length, o);
    m.value.copy(buf, o);
    writeSync(this.fd, buf, 0, size, this.writePos);
    this.writePos += size;
    this.count++;
    return true;
  }

  /** Takes up to `max` messages from the head (removed: the caller owns them now). */
  take(max: number): QueuedMessage[] {
    const out: QueuedMessage[] = [];
    while (out.length < max && this.readPos < this.writePos) {
      const m = this.readAt(this.readPos);
      if (m === null) break;
      out.push(m.message);
      this.readPos += messageSize(m.message);
      this.count--;
    }
    if (this.readPos >= this.writePos) {
      // Empty again: start over so the file does not grow without bound.
      ftruncateSync(this.fd, 0);
      this.readPos = 0;
      this.writePos = 0;
      this.count = 0;
    }
    return out;
  }

  private readAt(pos: number): { message: QueuedMessage } | null {
    const head = Buffer.allocUnsafe(9);
    if (readSync(this.fd, head, 0, 9, pos) < 9) return null;
    const kind = head.readUInt8(0) === 0 ? 'observation' : 'watermark';
    const partition = head.readInt32BE(1);
    const keyLen = head.readUInt32BE(5);
    const hasKey = keyLen !== 0xffffffff;
    let at = pos + 9;
    let key: Buffer | null = null;
    if (hasKey) {
      key = Buffer.allocUnsafe(keyLen);
      if (readSync(this.fd, key, 0, keyLen, at) < keyLen) return null;
      at += keyLen;
    }
    const lenBuf = Buffer.allocUnsafe(4);
    if (readSync(this.fd, lenBuf, 0, 4, at) < 4) return null;
    const valueLen = lenBuf.readUInt32BE(0);
    const value = Buffer.allocUnsafe(valueLen);
    if (readSync(this.fd, value, 0, valueLen, at + 4) < valueLen) return null;
    return { message: { kind, partition, key, value } };
  }

  close(): void {
    closeSync(this.fd);
  }
}
