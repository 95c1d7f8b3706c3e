import { describe, expect, it } from 'vitest';
import { parseApiVersionsResponse, pickVersion } from '../../../../src/kafka/wire/api-versions.js';
import { encodeFetchRequest, parseFetchResponse } from '../../../../src/kafka/wire/fetch.js';
import { encodeMetadataRequest, parseMetadataResponse } from '../../../../src/kafka/wire/metadata.js';
import { apiVersionsResponse, fetchResponse, metadataResponse } from './responses.js';

describe('ApiVersions', () => {
  it('parses the v0 answer and picks the highest version both sides speak', () => {
    const { errorCode, apis } = parseApiVersionsResponse(
      apiVersionsResponse([
        [1, 4, 18],
        [3, 0, 13],
      ]),
    );
    expect(errorCode).toBe(0);
    expect(pickVersion(apis.get(1), [4, 5, 6, 7, 8, 9, 10, 11])).toBe(11);
    expect(pickVersion(apis.get(3), [1, 2, 3, 4, 5, 6, 7, 8])).toBe(8);
    expect(pickVersion({ min: 12, max: 18 }, [4, 11])).toBeUndefined();
    expect(pickVersion(undefined, [4])).toBeUndefined();
  });
});

describe('Metadata', () => {
  it('encodes a one-topic request that never creates the topic (v8)', () => {
    expect(encodeMetadataRequest(8, 'ab').toString('hex')).toBe(
      '00000001' + '0002' + '6162' + '00' + '00' + '00',
    );
    expect(encodeMetadataRequest(1, 'ab').toString('hex')).toBe('00000001' + '0002' + '6162');
  });

  it.each([1, 2, 4, 5, 7, 8])('parses leaders and broker addresses (v%i)', (version) => {
    const body = metadataResponse(
      version,
      'state',
      [
        { id: 1, host: 'b1', port: 9092 },
        { id: 2, host: 'b2', port: 9093 },
      ],
      [
        { partition: 0, leader: 2, epoch: 5 },
        { partition: 1, leader: -1, error: 5 },
      ],
    );
    const md = parseMetadataResponse(version, body, 'state');
    expect(md.errorCode).toBe(0);
    expect(md.brokers.get(2)).toEqual({ host: 'b2', port: 9093 });
    expect(md.partitions).toEqual([
      { partition: 0, errorCode: 0, leader: 2, leaderEpoch: version >= 7 ? 5 : -1 },
      { partition: 1, errorCode: 5, leader: -1, leaderEpoch: version >= 7 ? 0 : -1 },
    ]);
  });

  it('a truncated answer fails naming the field', () => {
    const body = metadataResponse(8, 't', [{ id: 1, host: 'h', port: 1 }], [{ partition: 0, leader: 1 }]);
    expect(() => parseMetadataResponse(8, body.subarray(0, 30), 't')).toThrow(
      /malformed Kafka response: .* cut short/,
    );
  });
});

describe('Fetch', () => {
  it('encodes v11 as the protocol guide lays it out', () => {
    const req = encodeFetchRequest(11, {
      topic: 't',
      partition: 2,
      offset: 300,
      leaderEpoch: 4,
      maxWaitMs: 100,
      maxBytes: 1024,
      readCommitted: true,
    });
    expect(req.toString('hex')).toBe(
      [
        'ffffffff', // replica_id -1
        '00000064', // max_wait_ms 100
        '00000001', // min_bytes 1
        '00000400', // max_bytes 1024
        '01', // isolation_level read_committed
        '00000000', // session_id 0
        'ffffffff', // session_epoch -1: no session
        '00000001',
        '0001',
        '74', // [topics] "t"
        '00000001',
        '00000002', // [partitions] partition 2
        '00000004', // current_leader_epoch 4
        '000000000000012c', // fetch_offset 300
        'ffffffffffffffff', // log_start_offset -1
        '00000400', // partition_max_bytes
        '00000000', // [forgotten_topics_data] empty
        '0000', // rack_id ""
      ].join(''),
    );
  });

  it('encodes v4 without the fields of later versions', () => {
    const req = encodeFetchRequest(4, {
      topic: 't',
      partition: 0,
      offset: 1,
      leaderEpoch: -1,
      maxWaitMs: 0,
      maxBytes: 16,
      readCommitted: false,
    });
    expect(req.toString('hex')).toBe(
      'ffffffff' +
        '00000000' +
        '00000001' +
        '00000010' +
        '00' +
        '00000001' +
        '000174' +
        '00000001' +
        '00000000' +
        '0000000000000001' +
        '00000010',
    );
  });

  it.each([4, 5, 7, 11])(
    'parses the partition header, aborted transactions and the records range (v%i)',
    (version) => {
      const records = Buffer.from('0102030405', 'hex');
      const body = fetchResponse(version, 't', 3, {
        highWatermark: 42,
        logStartOffset: 7,
        aborted: [[9, 30]],
        records,
      });
      const f = parseFetchResponse(version, body, 't', 3);
      expect(f.errorCode).toBe(0);
      expect(f.highWatermark).toBe(42);
      expect(f.logStartOffset).toBe(version >= 5 ? 7 : -1);
      expect(f.aborted).toEqual([{ producerId: 9, firstOffset: 30 }]);
      expect(f.buf.subarray(f.start, f.end)).toEqual(records);
    },
  );

  it('a null aborted list and null records read as none; an absent partition as UNKNOWN_TOPIC_OR_PARTITION', () => {
    const body = fetchResponse(11, 't', 0, { error: 1, highWatermark: 5, aborted: null, records: null });
    const f = parseFetchResponse(11, body, 't', 0);
    expect(f.errorCode).toBe(1);
    expect(f.aborted).toEqual([]);
    expect(f.end - f.start).toBe(0);
    expect(parseFetchResponse(11, body, 't', 1).errorCode).toBe(3);
  });
});
