/**
 * Reads [fromOffset, toOffset) of one partition as raw records, with ctflow's own Fetch requests (wire/):
 * the changelog restore's read. kafkajs decodes a fetch into an object per record (offset string, Long
 * timestamp, headers object, key and value slices); a restore of 100,000 flows spent more time there than
 * in the flow table. This reader hands each record's key and value as positions in the fetched bytes.
 *
 * kafkajs stays the client for everything else (groups, commits, produce, metadata of the other modules).
 * Whatever wire/ does not speak falls back to the kafkajs range reader (range-reader.ts), counted by reason:
 * SASL (no SASL handshake here), a broker without Fetch 4-11 or Metadata 1-8, old message formats (magic
 * 0/1), compression other than none and gzip. A fallback in the middle of a read goes on from the batch it
 * could not read, so the records arrive once each, in order, whichever way they were read.
 */
import { CtflowError, isCtflowError } from '../errors.js';
import { type KafkaClient, connectionOptionsOf } from './client.js';
import type { ConsumedMessage } from './message.js';
import { createPartitionRangeReader, type PartitionRangeReader, type RangeResult } from './range-reader.js';
import { API_VERSIONS_KEY, parseApiVersionsResponse, pickVersion } from './wire/api-versions.js';
import { type BrokerAddress, BrokerConnection, type ConnectionSettings } from './wire/connection.js';
import { isLeadershipError, KafkaErrorCode, kafkaErrorName } from './wire/errors.js';
import { encodeFetchRequest, FETCH_KEY, FETCH_VERSIONS, parseFetchResponse } from './wire/fetch.js';
import {
  encodeMetadataRequest,
  METADATA_KEY,
  METADATA_VERSIONS,
  parseMetadataResponse,
} from './wire/metadata.js';
import {
  offsetAfterWholeBatches,
  RecordBatchReader,
  type RecordHandler,
  type RecordView,
  UnsupportedRecords,
} from './wire/record-batch.js';

export type { RecordHandler, RecordView } from './wire/record-batch.js';

/** Reader settings. */
export interface RecordRangeReaderOptions {
  topic: string;
  /** Bytes per fetch response. Default 8 MiB (a larger batch still comes whole). */
  maxBytes?: number;
  /** Longest wait of a fetch for data at the end of the log. Default 100 ms. */
  maxWaitMs?: number;
  /** Skip records of aborted transactions and control records (read_committed, as kafkajs). Default true. */
  readCommitted?: boolean;
  /** Retries after leader changes (leader not available, not leader, fenced epoch). Default 10. */
  leaderRetries?: number;
  /** Makes the reader of what wire/ cannot read. Default: a kafkajs range reader of the topic. */
  fallbackReader?: () => Promise<PartitionRangeReader>;
}

/** One read. */
export interface RecordRangeRead {
  partition: number;
  /** First offset to read. */
  fromOffset: number;
  /** End offset, exclusive (typically the end offset taken before the read). */
  toOffset: number;
  /** Gets the records in offset order; the view is valid during the call only. */
  onRecord: RecordHandler;
  /** Called after each fetched chunk with the records read so far (e.g. a group heartbeat). */
  onProgress?: (records: number) => Promise<void> | void;
  /** Resolve with `complete: false` after this long without progress. Default: wait without limit. */
  idleTimeoutMs?: number;
}

/** A reader of raw record ranges of one topic; reads of different partitions may run at the same time. */
export interface PartitionRecordReader {
  readRecords(range: RecordRangeRead): Promise<RangeResult>;
  /** Reads (or their ends) that went through kafkajs, by reason ("sasl", "compression-zstd", ...). */
  fallbacks(): Record<string, number>;
  /** Closes connections (and the kafkajs fallback reader if one was started). */
  close(): Promise<void>;
}

/** Parses "host:port" / "[v6]:port". */
function addressOf(broker: string): BrokerAddress {
  const i = broker.lastIndexOf(':');
  const host = broker.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(broker.slice(i + 1)) };
}

/** A broker connection with the versions chosen for it. */
interface Link {
  conn: BrokerConnection;
  fetchVersion: number | undefined;
  metadataVersion: number | undefined;
}

/** A fetch request on its way. */
interface SentFetch {
  link: Link;
  offset: number;
  epoch: number;
  body: Promise<Buffer>;
}

/** A fallback is needed for the whole reader (not one batch). */
class Unspoken extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Adapts a kafkajs-read message to the RecordView the handlers take. */
class MessageView implements RecordView {
  offset = 0;
  m: ConsumedMessage | undefined;
  key(): Buffer | null {
    return this.m?.key ?? null;
  }
  keyString(): string | null {
    return this.m?.key?.toString('utf8') ?? null;
  }
  value(): Buffer | null {
    return this.m?.value ?? null;
  }
  header(name: string): Buffer | null {
    return this.m?.headers[name] ?? null;
  }
}

class WireRecordReader implements PartitionRecordReader {
  readonly #topic: string;
  readonly #maxBytes: number;
  readonly #maxWaitMs: number;
  readonly #readCommitted: boolean;
  readonly #leaderRetries: number;
  readonly #settings: ConnectionSettings;
  readonly #bootstrap: BrokerAddress[];
  readonly #fallbacks: Record<string, number> = {};
  #unspoken: string | undefined;
  /** Node id -> connection (with its versions). */
  readonly #links = new Map<number | string, Promise<Link>>();
  /** Partition -> leader, from the last Metadata answer. */
  #leaders: Promise<Map<number, { node: number; address: BrokerAddress; epoch: number }>> | undefined;
  #fallbackReader: Promise<PartitionRangeReader> | undefined;
  readonly #makeFallback: () => Promise<PartitionRangeReader>;
  #closed = false;

  constructor(client: KafkaClient, options: RecordRangeReaderOptions) {
    const c = connectionOptionsOf(client);
    this.#topic = options.topic;
    this.#maxBytes = options.maxBytes ?? 8 * 1_048_576;
    this.#maxWaitMs = options.maxWaitMs ?? 100;
    this.#readCommitted = options.readCommitted ?? true;
    this.#leaderRetries = options.leaderRetries ?? 10;
    this.#settings = {
      clientId: c.clientId,
      connectTimeoutMs: c.connectionTimeoutMs,
      requestTimeoutMs: c.requestTimeoutMs,
      ...(c.tls === undefined ? {} : { tls: c.tls }),
    };
    this.#bootstrap = c.brokers.map(addressOf);
    this.#makeFallback =
      options.fallbackReader ??
      (() => createPartitionRangeReader(client, { topic: options.topic, concurrency: 1 }));
    if (c.sasl) this.#unspoken = 'sasl';
  }

  fallbacks(): Record<string, number> {
    return { ...this.#fallbacks };
  }

  async close(): Promise<void> {
    this.#closed = true;
    const links = [...this.#links.values()];
    this.#links.clear();
    for (const l of links) (await l.catch(() => undefined))?.conn.close();
    const fallback = this.#fallbackReader;
    this.#fallbackReader = undefined;
    if (fallback) await (await fallback.catch(() => undefined))?.close();
  }

  async readRecords(range: RecordRangeRead): Promise<RangeResult> {
    const { partition, fromOffset, toOffset } = range;
    if (fromOffset >= toOffset) return { partition, records: 0, lastOffset: -1, complete: true };
    if (this.#closed) throw this.#closedError(partition);
    if (this.#unspoken !== undefined) return this.#fallback(range, fromOffset, this.#unspoken, 0, -1);
    const where = `${this.#topic}[${partition}]`;
    const reader = new RecordBatchReader(fromOffset, toOffset, where);
    let lastProgress = Date.now();
    let leaderFailures = 0;
    // The next fetch, sent before the previous response was read: the broker prepares it meanwhile.
    let ahead: SentFetch | undefined;
    try {
      while (!reader.done) {
        if (this.#closed) throw this.#closedError(partition);
        let sent: SentFetch;
        if (ahead !== undefined && ahead.offset === reader.nextOffset) sent = ahead;
        else {
          let link: Link;
          let epoch: number;
          try {
            const leader = await this.#leader(partition, where);
            link = await this.#link(leader.node, leader.address);
            epoch = leader.epoch;
          } catch (err) {
            if (err instanceof Unspoken)
              return this.#fallback(range, reader.nextOffset, err.reason, reader.records, reader.lastOffset);
            throw err;
          }
          sent = this.#send(link, partition, reader.nextOffset, epoch, where);
        }
        ahead = undefined;
        const { link, offset } = sent;
        const version = link.fetchVersion as number;
        const body = await sent.body;
        const f = parseFetchResponse(version, body, this.#topic, partition);
        if (f.errorCode !== KafkaErrorCode.NONE) {
          if (f.errorCode === KafkaErrorCode.OFFSET_OUT_OF_RANGE) {
            throw new CtflowError(
              'KAFKA',
              `${where}: offset ${offset} is out of range of the log${f.highWatermark >= 0 ? ` (it holds ${f.logStartOffset} to ${f.highWatermark})` : ''}: deleted before it was read, or past the log's end`,
              {
                details: {
                  topic: this.#topic,
                  partition,
                  offset,
                  logStartOffset: f.logStartOffset,
                  highWatermark: f.highWatermark,
                },
                retriable: true,
              },
            );
          }
          if (isLeadershipError(f.errorCode) && leaderFailures < this.#leaderRetries) {
            leaderFailures++;
            this.#leaders = undefined;
            await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** leaderFailures, 2000)));
            continue;
          }
          throw new CtflowError(
            'KAFKA',
            `${where}: fetch at offset ${offset} failed: ${kafkaErrorName(f.errorCode)}`,
            {
              details: { topic: this.#topic, partition, offset, errorCode: f.errorCode },
              retriable: isLeadershipError(f.errorCode),
            },
          );
        }
        leaderFailures = 0;
        const next = offsetAfterWholeBatches(f.buf, f.start, f.end);
        if (next > offset && next < toOffset) ahead = this.#send(link, partition, next, sent.epoch, where);
        try {
          reader.read(f.buf, f.start, f.end, range.onRecord, f.aborted);
        } catch (err) {
          if (err instanceof UnsupportedRecords)
            return this.#fallback(
              range,
              Math.max(reader.nextOffset, err.offset),
              err.reason,
              reader.records,
              reader.lastOffset,
            );
          throw err;
        }
        if (reader.nextOffset > offset) lastProgress = Date.now();
        else if (f.highWatermark <= offset) {
          // The log ends before the range does (truncated since the end offset was taken).
          return { partition, records: reader.records, lastOffset: reader.lastOffset, complete: false };
        } else if (range.idleTimeoutMs !== undefined && Date.now() - lastProgress >= range.idleTimeoutMs) {
          return { partition, records: reader.records, lastOffset: reader.lastOffset, complete: false };
        }
        await range.onProgress?.(reader.records);
      }
    } finally {
      // Not needed any more (the range ended, or another way of reading took over).
      ahead?.body.catch(() => {});
    }
    return { partition, records: reader.records, lastOffset: reader.lastOffset, complete: true };
  }

  /** Sends one fetch of `partition` from `offset`. */
  #send(link: Link, partition: number, offset: number, epoch: number, where: string): SentFetch {
    const version = link.fetchVersion as number;
    const body = link.conn
      .request(
        FETCH_KEY,
        version,
        encodeFetchRequest(version, {
          topic: this.#topic,
          partition,
          offset,
          leaderEpoch: epoch,
          maxWaitMs: this.#maxWaitMs,
          maxBytes: this.#maxBytes,
          readCommitted: this.#readCommitted,
        }),
        `fetching ${where} at offset ${offset}`,
        this.#settings.requestTimeoutMs + this.#maxWaitMs,
      )
      .catch((err: unknown) => {
        // A lost connection: the next attempt opens a new one.
        this.#forget(link);
        throw err;
      });
    return { link, offset, epoch, body };
  }

  #closedError(partition: number): CtflowError {
    return new CtflowError('KAFKA', `reader of ${this.#topic} closed during a read`, {
      details: { topic: this.#topic, partition },
    });
  }

  /** Reads [from, range.toOffset) with the kafkajs reader, continuing a read that counted `records` so far. */
  async #fallback(
    range: RecordRangeRead,
    from: number,
    reason: string,
    records: number,
    lastOffset: number,
  ): Promise<RangeResult> {
    if (this.#closed) throw this.#closedError(range.partition);
    this.#fallbacks[reason] = (this.#fallbacks[reason] ?? 0) + 1;
    if (from >= range.toOffset) return { partition: range.partition, records, lastOffset, complete: true };
    this.#fallbackReader ??= this.#makeFallback();
    const reader = await this.#fallbackReader;
    const view = new MessageView();
    const result = await reader.read({
      partition: range.partition,
      fromOffset: from,
      toOffset: range.toOffset,
      ...(range.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: range.idleTimeoutMs }),
      onBatch: async (batch) => {
        for (const m of batch.messages) {
          view.m = m;
          view.offset = m.offset;
          range.onRecord(view);
        }
        records += batch.messages.length;
        await range.onProgress?.(records);
      },
    });
    return {
      partition: range.partition,
      records,
      lastOffset: result.lastOffset >= 0 ? result.lastOffset : lastOffset,
      complete: result.complete,
    };
  }

  /** The partition's leader (Metadata, cached until a leadership error). */
  async #leader(
    partition: number,
    where: string,
  ): Promise<{ node: number; address: BrokerAddress; epoch: number }> {
    this.#leaders ??= this.#metadata();
    const leaders = this.#leaders;
    let map: Map<number, { node: number; address: BrokerAddress; epoch: number }>;
    try {
      map = await leaders;
    } catch (err) {
      if (this.#leaders === leaders) this.#leaders = undefined;
      throw err;
    }
    const leader = map.get(partition);
    if (leader === undefined) {
      if (this.#leaders === leaders) this.#leaders = undefined;
      throw new CtflowError(
        'KAFKA',
        `${where}: no leader known for the partition (unknown partition or none elected)`,
        {
          details: { topic: this.#topic, partition },
          retriable: true,
        },
      );
    }
    return leader;
  }

  async #metadata(): Promise<Map<number, { node: number; address: BrokerAddress; epoch: number }>> {
    let last: unknown;
    for (const address of this.#bootstrap) {
      try {
        const link = await this.#link(`bootstrap ${address.host}:${address.port}`, address);
        const version = link.metadataVersion as number;
        let body: Buffer;
        try {
          body = await link.conn.request(
            METADATA_KEY,
            version,
            encodeMetadataRequest(version, this.#topic),
            `metadata of ${this.#topic}`,
          );
        } catch (err) {
          // No answer on this connection (closed by a restarting broker, timed out): the next
          // Metadata request must open a new one, or this reader would never read again.
          this.#forget(link);
          throw err;
        }
        const md = parseMetadataResponse(version, body, this.#topic);
        if (md.errorCode !== 0) {
          throw new CtflowError('KAFKA', `metadata of ${this.#topic}: ${kafkaErrorName(md.errorCode)}`, {
            details: { topic: this.#topic, errorCode: md.errorCode },
            retriable: isLeadershipError(md.errorCode),
          });
        }
        const out = new Map<number, { node: number; address: BrokerAddress; epoch: number }>();
        for (const p of md.partitions) {
          const address = md.brokers.get(p.leader);
          if (p.leader >= 0 && address !== undefined)
            out.set(p.partition, { node: p.leader, address, epoch: p.leaderEpoch });
        }
        return out;
      } catch (err) {
        if (err instanceof Unspoken) throw err;
        last = err;
      }
    }
    throw isCtflowError(last)
      ? last
      : new CtflowError('KAFKA', `metadata of ${this.#topic}: no broker answered`, {
          cause: last,
          retriable: true,
        });
  }

  /** A connection to `address` with its API versions checked (one per node). */
  #link(id: number | string, address: BrokerAddress): Promise<Link> {
    let link = this.#links.get(id);
    if (link === undefined) {
      link = this.#open(address);
      this.#links.set(id, link);
      link.catch(() => {
        if (this.#links.get(id) === link) this.#links.delete(id);
      });
    }
    return link;
  }

  #forget(link: Link): void {
    for (const [id, l] of this.#links) {
      void l.then((x) => {
        if (x === link && this.#links.get(id) === l) this.#links.delete(id);
      });
    }
    link.conn.close();
  }

  async #open(address: BrokerAddress): Promise<Link> {
    const conn = await BrokerConnection.connect(address, this.#settings);
    try {
      const { apis } = parseApiVersionsResponse(
        await conn.request(API_VERSIONS_KEY, 0, Buffer.alloc(0), 'ApiVersions'),
      );
      const fetchVersion = pickVersion(apis.get(FETCH_KEY), FETCH_VERSIONS);
      const metadataVersion = pickVersion(apis.get(METADATA_KEY), METADATA_VERSIONS);
      if (fetchVersion === undefined) {
        this.#unspoken = 'fetch-version';
        throw new Unspoken('fetch-version');
      }
      if (metadataVersion === undefined) {
        this.#unspoken = 'metadata-version';
        throw new Unspoken('metadata-version');
      }
      return { conn, fetchVersion, metadataVersion };
    } catch (err) {
      conn.close();
      throw err;
    }
  }
}

/**
 * A raw record reader of `topic` (nothing connects until the first read). Use for long reads where kafkajs'
 * per-record objects cost (the changelog restore); reads of one partition at a time per partition.
 */
export function createRecordRangeReader(
  client: KafkaClient,
  options: RecordRangeReaderOptions,
): PartitionRecordReader {
  return new WireRecordReader(client, options);
}
