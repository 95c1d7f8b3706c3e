/** The producer's batching over a fake kafkajs producer: coalescing, size bound, one request in flight. */
import { describe, expect, it } from 'vitest';
import { isCtflowError } from '../../../src/errors.js';
import { createKafka } from '../../../src/kafka/client.js';
import { BatchingProducer } from '../../../src/kafka/producer.js';

interface Request {
  topicMessages: Array<{
    topic: string;
    messages: Array<{ key?: unknown; value: unknown; partition?: number }>;
  }>;
  acks: number;
}

function fake(fail?: (r: Request) => Error | undefined) {
  const requests: Request[] = [];
  let release: Array<() => void> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const producer = {
    sendBatch: (r: Request) => {
      requests.push(r);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return new Promise((resolve, reject) => {
        release.push(() => {
          inFlight--;
          const err = fail?.(r);
          if (err) reject(err);
          else resolve([]);
        });
      });
    },
    disconnect: async () => {},
  };
  const releaseAll = () => {
    const r = release;
    release = [];
    for (const f of r) f();
  };
  return { producer, requests, releaseAll, maxInFlight: () => maxInFlight };
}

const client = createKafka({ brokers: ['127.0.0.1:9'] });
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const sizes = (rs: Request[]) => rs.map((r) => r.topicMessages.reduce((n, t) => n + t.messages.length, 0));

describe('BatchingProducer', () => {
  it('sends calls made within lingerMs as one request with acks=all, grouped by topic', async () => {
    const f = fake();
    const p = new BatchingProducer(client, f.producer as never, 1, 10, 1000);
    const done = [
      p.send('a', [{ key: 'k', value: '1' }]),
      p.send('b', [{ value: '2', partition: 3 }]),
      p.send('a', [{ value: '3' }]),
    ];
    await tick(30);
    expect(f.requests).toHaveLength(1);
    expect(f.requests[0]?.acks).toBe(-1);
    expect(f.requests[0]?.topicMessages.map((t) => [t.topic, t.messages.length])).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
    expect(f.requests[0]?.topicMessages[1]?.messages[0]?.partition).toBe(3);
    f.releaseAll();
    await Promise.all(done);
  });

  it('keeps one request in flight, queues the rest, and bounds a request by maxBatchMessages', async () => {
    const f = fake();
    const p = new BatchingProducer(client, f.producer as never, 1, 0, 100);
    const done = Array.from({ length: 25 }, (_, i) =>
      p.send(
        't',
        Array.from({ length: 10 }, () => ({ value: String(i) })),
      ),
    );
    await tick();
    expect(sizes(f.requests)).toEqual([10]);
    for (let i = 0; i < 5; i++) {
      f.releaseAll();
      await tick();
    }
    await Promise.all(done.slice(0, 1));
    expect(f.maxInFlight()).toBe(1);
    // The first call went alone (nothing queued yet); then at most 100 messages per request.
    expect(sizes(f.requests)).toEqual([10, 100, 100, 40]);
    await Promise.all(done);
  });

  it('rejects every call of a failed request with a KAFKA error naming the topic; later calls go on', async () => {
    const f = fake((r) => (r.topicMessages[0]?.topic === 'bad' ? new Error('broker says no') : undefined));
    const p = new BatchingProducer(client, f.producer as never, 1, 0, 100);
    const bad = p.send('bad', [{ value: 'x' }]).catch((e: unknown) => e);
    await tick();
    f.releaseAll();
    const err = await bad;
    expect(isCtflowError(err, 'KAFKA')).toBe(true);
    expect((err as Error).message).toContain('sending 1 messages to bad failed: broker says no');
    const good = p.send('good', [{ value: 'y' }]);
    await tick();
    f.releaseAll();
    await expect(good).resolves.toBeUndefined();
  });

  it('flush waits for queued and in-flight sends; disconnect refuses new ones', async () => {
    const f = fake();
    const p = new BatchingProducer(client, f.producer as never, 1, 1000, 100);
    let sent = false;
    const s = p.send('t', [{ value: 'v' }]).then(() => {
      sent = true;
    });
    const flushed = p.flush();
    await tick();
    expect(f.requests).toHaveLength(1);
    f.releaseAll();
    await flushed;
    await s;
    expect(sent).toBe(true);
    await p.disconnect();
    const err = await p.send('t', [{ value: 'late' }]).catch((e: unknown) => e);
    expect(isCtflowError(err, 'KAFKA')).toBe(true);
  });

  it('refuses a negative partition before sending anything', async () => {
    const f = fake();
    const p = new BatchingProducer(client, f.producer as never, 1, 0, 100);
    const err = await p.send('t', [{ value: 'v', partition: -1 }]).catch((e: unknown) => e);
    expect(isCtflowError(err, 'KAFKA')).toBe(true);
    expect(f.requests).toHaveLength(0);
  });

  it('splits a send larger than maxBatchMessages into requests, unless atomic', async () => {
    const f = fake();
    const p = new BatchingProducer(client, f.producer as never, 1, 0, 100);
    const split = p.send(
      't',
      Array.from({ length: 250 }, (_, i) => ({ value: String(i) })),
    );
    for (let i = 0; i < 4; i++) {
      await tick();
      f.releaseAll();
    }
    await split;
    expect(sizes(f.requests)).toEqual([100, 100, 50]);
    // Order kept across the requests.
    expect(f.requests.flatMap((r) => r.topicMessages[0]!.messages.map((m) => m.value))).toEqual(
      Array.from({ length: 250 }, (_, i) => String(i)),
    );
    const atomic = p.send(
      't',
      Array.from({ length: 250 }, () => ({ value: 'a' })),
      { atomic: true },
    );
    await tick();
    f.releaseAll();
    await atomic;
    expect(sizes(f.requests).at(-1)).toBe(250);
  });

  it('after a failed chunk, sends no later chunk of the same send', async () => {
    const f = fake((r) => (r.topicMessages[0]?.messages[0]?.value === '0' ? new Error('no') : undefined));
    const p = new BatchingProducer(client, f.producer as never, 1, 0, 100);
    const err = p
      .send(
        't',
        Array.from({ length: 250 }, (_, i) => ({ value: String(i) })),
      )
      .catch((e) => e);
    await tick();
    f.releaseAll();
    expect(isCtflowError(await err, 'KAFKA')).toBe(true);
    await tick();
    expect(f.requests).toHaveLength(1);
  });

  it('resends a request that failed for a retriable cause when told to, until it goes through', async () => {
    let failures = 2;
    const refused = Object.assign(new Error('gave up'), {
      retriable: false,
      cause: Object.assign(new Error('connect ECONNREFUSED'), { retriable: true }),
    });
    const f = fake(() => (failures-- > 0 ? refused : undefined));
    const p = new BatchingProducer(client, f.producer as never, 1, 0, 100, true);
    const sent = p.send('t', [{ value: 'v' }]);
    for (let i = 0; i < 3; i++) {
      await tick();
      f.releaseAll();
      await tick(600);
    }
    await expect(sent).resolves.toBeUndefined();
    expect(f.requests).toHaveLength(3);
    expect(p.resends).toBe(2);
  });

  it('tells an atomic send the offset of its first message per explicit partition, from the base offsets', async () => {
    const requests: Request[] = [];
    const producer = {
      sendBatch: async (r: Request) => {
        requests.push(r);
        return [
          { topicName: 'c', partition: 0, errorCode: 0, baseOffset: '100' },
          { topicName: 'c', partition: 1, errorCode: 0, baseOffset: '7' },
          { topicName: 'd', partition: 0, errorCode: 0, baseOffset: '50' },
        ];
      },
      disconnect: async () => {},
    };
    const p = new BatchingProducer(client, producer as never, 1, 10, 1000);
    const told: Array<[string, Array<[number, number]>]> = [];
    const tell = (name: string) => (m: ReadonlyMap<number, number>) => void told.push([name, [...m]]);
    await Promise.all([
      p.send(
        'c',
        [
          { value: '1', partition: 0 },
          { value: '2', partition: 1 },
        ],
        { atomic: true, onOffsets: tell('x') },
      ),
      p.send(
        'c',
        [
          { value: '3', partition: 0 },
          { value: '4', partition: 0 },
        ],
        { atomic: true, onOffsets: tell('y') },
      ),
      p.send('c', [{ value: '5', partition: 1 }], { atomic: true, onOffsets: tell('z') }),
      // Not atomic: not told. Another topic with a partitioner-placed message: offsets unknown there.
      p.send('c', [{ value: '6', partition: 0 }], { onOffsets: tell('not atomic') }),
      p.send(
        'd',
        [
          { value: '7', partition: 0 },
          { key: 'k', value: '8' },
        ],
        { atomic: true, onOffsets: tell('d') },
      ),
    ]);
    expect(requests).toHaveLength(1);
    expect(told).toEqual([
      [
        'x',
        [
          [0, 100],
          [1, 7],
        ],
      ],
      ['y', [[0, 101]]],
      ['z', [[1, 8]]],
    ]);
  });

  it('counts offsets per partition across runs that come back to a partition within one send', async () => {
    const producer = {
      sendBatch: async () => [
        { topicName: 'c', partition: 0, errorCode: 0, baseOffset: '10' },
        { topicName: 'c', partition: 1, errorCode: 0, baseOffset: '20' },
      ],
      disconnect: async () => {},
    };
    const p = new BatchingProducer(client, producer as never, 1, 10, 1000);
    const told: Array<Array<[number, number]>> = [];
    const tell = (m: ReadonlyMap<number, number>) => void told.push([...m]);
    await Promise.all([
      p.send(
        'c',
        [0, 0, 1, 0, 1].map((partition, i) => ({ value: String(i), partition })),
        {
          atomic: true,
          onOffsets: tell,
        },
      ),
      p.send(
        'c',
        [1, 0].map((partition, i) => ({ value: String(i), partition })),
        {
          atomic: true,
          onOffsets: tell,
        },
      ),
    ]);
    // First send: partition 0 gets 3 messages (10-12), partition 1 gets 2 (20-21); the second starts after.
    expect(told).toEqual([
      [
        [0, 10],
        [1, 20],
      ],
      [
        [1, 22],
        [0, 13],
      ],
    ]);
  });
});
