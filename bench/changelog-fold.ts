/**
 * Changelog read micro-benchmark (issue #6, the read phase without Kafka): RecordBatch v2 parsing
 * (RecordBatchReader) and the changelog fold (ChangelogFold.addRecord, owner fence included) over N
 * changelog records held in memory as a broker would return them (batches of 500, every record with the
 * current owner's header, flow-like keys, 140-byte values). Prints the first (cold) round and the median /
 * minimum of the warm rounds (after 10), in ms per N records: wall time, and CPU time of the process (less
 * disturbed by other processes on a loaded machine).
 *
 *   node --import tsx bench/changelog-fold.ts [--records 100000] [--rounds 40]
 */
import { RecordBatchReader } from '../src/kafka/wire/record-batch.js';
import { encodeFetchedBatches, type RecordInput } from '../src/kafka/wire/record-batch-writer.js';
import { claimHeader, encodeClaim, OWNER_HEADER, OWNER_KEY } from '../src/processor/fence.js';
import { ChangelogFold } from '../src/processor/restore.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}

const n = arg('records', 100_000);
const rounds = Math.max(11, arg('rounds', 40));
const claim = { epoch: 12345, owner: 'processor-7f3a9c2e-1b4d' };
const headers = { [OWNER_HEADER]: claimHeader(claim) };
const records: RecordInput[] = [{ key: OWNER_KEY, value: encodeClaim(claim), headers }];
const value = Buffer.alloc(140, 7);
for (let i = 0; i < n; i++) {
  const addr = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  records.push({ key: `node-${i % 10}|6|${addr}|${1024 + (i % 50_000)}|192.168.1.1|443|0`, value, headers });
}
const batches = encodeFetchedBatches(records, 500, Date.now());
const fetched = Buffer.concat(batches);
const times: number[] = [];
const cpuTimes: number[] = [];
for (let round = 0; round < rounds; round++) {
  const cpu = process.cpuUsage();
  const t = process.hrtime.bigint();
  const reader = new RecordBatchReader(0, records.length, 'bench[0]');
  const fold = new ChangelogFold('bench[0]');
  reader.read(fetched, 0, fetched.length, (r) => fold.addRecord(r));
  times.push(Number(process.hrtime.bigint() - t) / 1e6);
  const used = process.cpuUsage(cpu);
  cpuTimes.push((used.user + used.system) / 1000);
  if (reader.records !== records.length || fold.claim?.owner !== claim.owner) throw new Error('bad read');
}
const warm = times.slice(10).sort((a, b) => a - b);
const warmCpu = cpuTimes.slice(10).sort((a, b) => a - b);
const ms = (x: number | undefined) => Number((x ?? Number.NaN).toFixed(2));
console.log(
  `changelog-fold ${JSON.stringify({ records: n, firstMs: ms(times[0]), warmMedianMs: ms(warm[warm.length >> 1]), warmMinMs: ms(warm[0]), warmMedianCpuMs: ms(warmCpu[warmCpu.length >> 1]) })}`,
);
