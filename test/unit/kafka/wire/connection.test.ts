import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerConnection } from '../../../../src/kafka/wire/connection.js';

const SETTINGS = { clientId: 'test', connectTimeoutMs: 2000, requestTimeoutMs: 5000 };

const servers: net.Server[] = [];
const conns: BrokerConnection[] = [];
afterEach(async () => {
  for (const c of conns.splice(0)) c.close();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/**
 * A broker that answers each request with `answers[i]` (correlation id put in front), writing the
 * responses of `per` requests together, cut into pieces of the sizes `cut` returns, a tick apart.
 */
async function broker(
  answers: Buffer[],
  per: number,
  cut: (left: number) => number,
): Promise<BrokerConnection> {
  const server = net.createServer((socket) => {
    let pending = Buffer.alloc(0);
    let ids: number[] = [];
    // Writes one group after the other (pieces of two groups must not interleave).
    let writing = Promise.resolve();
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        ids.push(pending.readInt32BE(8));
        pending = pending.subarray(4 + pending.readInt32BE(0));
        if (ids.length < per) continue;
        const out = Buffer.concat(
          ids.map((id) => {
            const answer = answers[id - 1] as Buffer;
            const head = Buffer.alloc(8);
            head.writeInt32BE(answer.length + 4, 0);
            head.writeInt32BE(id, 4);
            return Buffer.concat([head, answer]);
          }),
        );
        ids = [];
        writing = writing.then(async () => {
          for (let at = 0; at < out.length; ) {
            const n = Math.min(cut(out.length - at), out.length - at);
            socket.write(out.subarray(at, at + n));
            at += n;
            await new Promise((r) => setImmediate(r));
          }
        });
      }
    });
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const conn = await BrokerConnection.connect({ host: '127.0.0.1', port }, SETTINGS);
  conns.push(conn);
  return conn;
}

/** Length and digest of each buffer (vitest compares megabytes of Buffer slowly). */
const digests = (bufs: Buffer[]) =>
  bufs.map((b) => `${b.length}:${createHash('sha256').update(b).digest('hex')}`);

describe('broker connection framing', () => {
  it('puts together responses sent a byte at a time', async () => {
    const answers = [randomBytes(0), randomBytes(3), randomBytes(17)];
    const conn = await broker(answers, 1, () => 1);
    for (const answer of answers) expect(await conn.request(18, 0, Buffer.alloc(0), 'test')).toEqual(answer);
  });

  it('splits pipelined responses that arrive in one piece, and responses larger than a read', async () => {
    const answers = [
      randomBytes(10),
      randomBytes(3 << 20),
      randomBytes(100),
      randomBytes(200_000),
      randomBytes(1),
    ];
    const conn = await broker(answers, answers.length, () => 1 << 30);
    const got = await Promise.all(answers.map(() => conn.request(1, 11, Buffer.alloc(0), 'test')));
    expect(digests(got)).toEqual(digests(answers));
  });

  it('reads large responses cut anywhere, lengths split across pieces included', async () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const answers = Array.from({ length: 12 }, (_, i) => randomBytes(i % 3 === 0 ? 300_000 + i : i * 5));
    const conn = await broker(answers, 3, () => 1 + (random() % (random() % 2 === 0 ? 7 : 70_000)));
    const got = await Promise.all(answers.map(() => conn.request(1, 11, Buffer.alloc(0), 'test')));
    expect(digests(got)).toEqual(digests(answers));
  });
});
