/**
 * kafkajs' Produce request (versions 3-7 share one encoder: kafkajs/src/protocol/requests/produce/v3/request.js)
 * encoded with wire/record-batch-writer.ts: one buffer per partition's batch instead of a growable kafkajs
 * Encoder per record, per header and per batch, each copied into the next (the changelog produce path spent
 * ~20 µs of CPU per message there, mostly allocation and garbage). src/kafka/kafkajs.ts installs it in place
 * of kafkajs' module, so everything else stays kafkajs': idempotence (producer id, epoch and the sequence
 * numbers it passes in), acks, retries, metadata, the response. The bytes are the ones kafkajs 2.2.4 writes
 * (tested against it), compression included (through kafkajs' own codecs).
 *
 *   Produce Request (Version: 3-7) => transactional_id acks timeout [topic_data]
 *     transactional_id NULLABLE_STRING, acks INT16, timeout INT32,
 *     topic_data => topic STRING [data]
 *       data => partition INT32, record_set RECORDS (INT32 size, then one RecordBatch v2)
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  type BatchHeader,
  encodeRecordBatch,
  encodeRecords,
  type RecordInput,
} from './wire/record-batch-writer.js';

const require = createRequire(import.meta.url);
const root = join(dirname(require.resolve('kafkajs')), 'src');

/** kafkajs' Encoder: the request framing reads `.buf` and `.buffer` (buf up to offset) of what encode() returns. */
interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
}
const Encoder = require(join(root, 'protocol', 'encoder.js')) as new (size?: number) => KafkajsEncoder;
const { lookupCodec } = require(join(root, 'protocol', 'message', 'compression', 'index.js')) as {
  lookupCodec: (type: number) => { compress(encoder: KafkajsEncoder): Promise<Buffer> } | null;
};

/** API key of Produce. */
const PRODUCE_KEY = 0;

/** A partition's messages as kafkajs' sendMessages hands them (sequence set for idempotent producers). */
interface PartitionData {
  partition: number;
  firstSequence?: number;
  messages: readonly RecordInput[];
}

/** What kafkajs passes to the request module (see produce/index.js). */
export interface ProduceRequestArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  /** A kafkajs Long, decimal text or number; -1 when not idempotent. */
  producerId?: { toString(): string } | string | number;
  producerEpoch?: number;
  compression?: number;
  topicData: ReadonlyArray<{ topic: string; partitions: readonly PartitionData[] }>;
}

/** The request object kafkajs' broker sends (apiVersion is overwritten by the v4-v7 wrappers). */
export interface ProduceRequest {
  apiKey: number;
  apiVersion: number;
  apiName: string;
  expectResponse: () => boolean;
  encode: () => Promise<KafkajsEncoder>;
}

function encoderOf(buf: Buffer): KafkajsEncoder {
  const e = new Encoder(0);
  e.buf = buf;
  e.offset = buf.length;
  return e;
}

/** One partition's RecordBatch (compressed through kafkajs' codec registry when asked). */
async function partitionBatch(
  data: PartitionData,
  compression: number,
  header: Omit<BatchHeader, 'compression' | 'firstSequence'>,
): Promise<Buffer> {
  const encoded = encodeRecords(data.messages, Date.now());
  let records = encoded.bytes;
  const codec = compression & 7;
  if (codec !== 0) {
    const impl = lookupCodec(compression);
    if (impl === null) throw new Error(`unknown compression codec ${compression}`);
    records = await impl.compress(encoderOf(records));
  }
  return encodeRecordBatch(records, encoded, {
    ...header,
    compression: codec,
    firstSequence: data.firstSequence ?? 0,
  });
}

/** Drop-in for kafkajs/src/protocol/requests/produce/v3/request.js. */
export function produceRequest({
  acks,
  timeout,
  transactionalId = null,
  producerId = -1,
  producerEpoch = 0,
  compression = 0,
  topicData,
}: ProduceRequestArgs): ProduceRequest {
  return {
    apiKey: PRODUCE_KEY,
    apiVersion: 3,
    apiName: 'Produce',
    expectResponse: () => acks !== 0,
    encode: async () => {
      const header = {
        transactional: transactionalId !== null && transactionalId !== undefined && transactionalId !== '',
        producerId: BigInt(String(producerId)),
        producerEpoch,
      };
      const parts: Buffer[] = [];
      let size = 2 + (transactionalId === null ? 0 : Buffer.byteLength(transactionalId)) + 2 + 4 + 4;
      for (const t of topicData) {
        const name = Buffer.from(t.topic, 'utf8');
        const head = Buffer.allocUnsafe(2 + name.length + 4);
        head.writeInt16BE(name.length, 0);
        name.copy(head, 2);
        head.writeInt32BE(t.partitions.length, 2 + name.length);
        parts.push(head);
        size += head.length;
        for (const p of t.partitions) {
          const batch = await partitionBatch(p, compression, header);
          const ph = Buffer.allocUnsafe(8);
          ph.writeInt32BE(p.partition, 0);
          ph.writeInt32BE(batch.length, 4);
          parts.push(ph, batch);
          size += 8 + batch.length;
        }
      }
      const out = Buffer.allocUnsafe(size);
      let at = 0;
      if (transactionalId === null) at = out.writeInt16BE(-1, at);
      else {
        at = out.writeInt16BE(Buffer.byteLength(transactionalId), at);
        at += out.write(transactionalId, at, 'utf8');
      }
      at = out.writeInt16BE(acks, at);
      at = out.writeInt32BE(timeout, at);
      at = out.writeInt32BE(topicData.length, at);
      for (const part of parts) at += part.copy(out, at);
      return encoderOf(out);
    },
  };
}
