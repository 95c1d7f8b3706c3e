/** Test-side encoders of the responses wire/ parses (protocol guide layouts), for golden inputs. */
import { ByteWriter } from '../../../../src/kafka/wire/bytes.js';

/** ApiVersions v0 response. */
export function apiVersionsResponse(
  apis: Array<[key: number, min: number, max: number]>,
  errorCode = 0,
): Buffer {
  const w = new ByteWriter().int16(errorCode).int32(apis.length);
  for (const [k, min, max] of apis) w.int16(k).int16(min).int16(max);
  return Buffer.from(w.bytes());
}

/** Metadata response (v1-v8 layouts) for one topic. */
export function metadataResponse(
  version: number,
  topic: string,
  brokers: Array<{ id: number; host: string; port: number }>,
  partitions: Array<{ partition: number; leader: number; epoch?: number; error?: number }>,
  topicError = 0,
): Buffer {
  const w = new ByteWriter();
  if (version >= 3) w.int32(0);
  w.int32(brokers.length);
  for (const b of brokers) w.int32(b.id).string(b.host).int32(b.port).string(null);
  if (version >= 2) w.string('cluster');
  w.int32(brokers[0]?.id ?? -1);
  w.int32(1).int16(topicError).string(topic).int8(0).int32(partitions.length);
  for (const p of partitions) {
    w.int16(p.error ?? 0)
      .int32(p.partition)
      .int32(p.leader);
    if (version >= 7) w.int32(p.epoch ?? 0);
    w.int32(1).int32(p.leader).int32(1).int32(p.leader);
    if (version >= 5) w.int32(0);
  }
  if (version >= 8) w.int32(-2147483648);
  if (version >= 8) w.int32(-2147483648);
  return Buffer.from(w.bytes());
}

/** Fetch response (v4-v11 layouts) for one partition. */
export function fetchResponse(
  version: number,
  topic: string,
  partition: number,
  p: {
    error?: number;
    highWatermark: number;
    logStartOffset?: number;
    aborted?: Array<[producerId: number, firstOffset: number]> | null;
    records: Buffer | null;
  },
): Buffer {
  const w = new ByteWriter().int32(0);
  if (version >= 7) w.int16(0).int32(0);
  w.int32(1)
    .string(topic)
    .int32(1)
    .int32(partition)
    .int16(p.error ?? 0)
    .int64(p.highWatermark);
  w.int64(p.highWatermark);
  if (version >= 5) w.int64(p.logStartOffset ?? 0);
  const aborted = p.aborted === undefined ? [] : p.aborted;
  if (aborted === null) w.int32(-1);
  else {
    w.int32(aborted.length);
    for (const [id, first] of aborted) w.int64(id).int64(first);
  }
  if (version >= 11) w.int32(-1);
  const head = Buffer.from(w.bytes());
  if (p.records === null) return Buffer.concat([head, Buffer.from([0xff, 0xff, 0xff, 0xff])]);
  const len = Buffer.alloc(4);
  len.writeInt32BE(p.records.length, 0);
  return Buffer.concat([head, len, p.records]);
}
