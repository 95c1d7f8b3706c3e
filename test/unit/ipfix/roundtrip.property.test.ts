import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCtflowError } from '../../../src/errors.js';
import type { FlowRecord } from '../../../src/flow/types.js';
import { formatIpv6, writeIpv6 } from '../../../src/ipfix/address.js';
import { DEFAULT_LENGTH, type DataType, type FieldValue } from '../../../src/ipfix/datatypes.js';
import { Decoder } from '../../../src/ipfix/decoder.js';
import { writeFlowRecord } from '../../../src/ipfix/flow-fields.js';
import { FlowTemplates, type TimePrecision, variantOf } from '../../../src/ipfix/flow-templates.js';
import { MessageBuilder } from '../../../src/ipfix/message.js';
import { type InformationElement, createRegistry } from '../../../src/ipfix/registry.js';
import { ExportSession, type OutMessage } from '../../../src/ipfix/session.js';
import { statsTemplate } from '../../../src/ipfix/stats-template.js';
import {
  type FieldSpec,
  makeTemplate,
  dataRecordLength,
  writeDataRecord,
} from '../../../src/ipfix/template.js';
import { record, tuple } from './records.js';

/** Registry with one test element per data type (enterprise 4242) besides the IANA ones. */
const TYPES: DataType[] = Object.keys(DEFAULT_LENGTH) as DataType[];
const registry = createRegistry();
const testElements: InformationElement[] = TYPES.map((type, k) => ({
  id: 100 + k,
  pen: 4242,
  name: `test_${type}`,
  type,
  semantics: type.startsWith('unsigned') ? 'deltaCounter' : 'default',
}));
for (const e of testElements) registry.add(e);

const NTP_ERA0_END_S = 0xffffffff - 2208988800;

function valueArb(ie: InformationElement, length: number): fc.Arbitrary<FieldValue> {
  const bits = 8 * length;
  switch (ie.type) {
    case 'unsigned8':
    case 'unsigned16':
    case 'unsigned32':
      return fc.integer({ min: 0, max: 2 ** bits - 1 });
    case 'unsigned64':
      return fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
    case 'signed8':
    case 'signed16':
    case 'signed32':
      return fc.integer({ min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 });
    case 'signed64':
      return fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
    case 'float32':
      return fc.float({ noNaN: true });
    case 'float64':
      return fc.double({ noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'macAddress':
      return fc
        .uint8Array({ minLength: 6, maxLength: 6 })
        .map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'));
    case 'octetArray':
      return fc.uint8Array({ maxLength: 300 });
    case 'string':
      return fc.string({ unit: 'binary', maxLength: 40 });
    case 'ipv4Address':
      return fc.ipV4();
    case 'ipv6Address':
      return fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIpv6(b, 0));
    case 'dateTimeSeconds':
      return fc.integer({ min: 1, max: 0xffffffff });
    case 'dateTimeMilliseconds':
      return fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
    case 'dateTimeMicroseconds':
      return fc.integer({ min: 1, max: (NTP_ERA0_END_S + 1) * 1e6 - 1 });
    case 'dateTimeNanoseconds':
      return fc.bigInt({ min: 1n, max: BigInt(NTP_ERA0_END_S + 1) * 1_000_000_000n - 1n });
  }
}

const fieldArb: fc.Arbitrary<{ ie: InformationElement; length: number }> = fc
  .constantFrom(...testElements, ...registry.all())
  .chain((ie) => {
    const full = DEFAULT_LENGTH[ie.type];
    if (ie.semantics === 'deltaCounter' || ie.semantics === 'totalCounter') {
      return fc.integer({ min: 1, max: full }).map((length) => ({ ie, length }));
    }
    return fc.constant({ ie, length: full });
  });

const templateArb = fc
  .tuple(fc.integer({ min: 256, max: 65535 }), fc.array(fieldArb, { minLength: 1, maxLength: 12 }), fc.nat(3))
  .map(([id, fields, scope]) => makeTemplate(id, fields as FieldSpec[], Math.min(scope, fields.length)));

const caseArb = templateArb.chain((t) =>
  fc.tuple(
    fc.constant(t),
    fc.array(fc.tuple(...t.fields.map((f) => valueArb(f.ie, f.length))), { minLength: 1, maxLength: 4 }),
  ),
);

function build(t: ReturnType<typeof makeTemplate>, rows: FieldValue[][], seq: number): Buffer {
  const b = new MessageBuilder(65535);
  expect(b.addTemplate(t)).toBe(true);
  b.useSet(t.id);
  for (const row of rows) {
    const n = dataRecordLength(t, row);
    expect(writeDataRecord(b.buf, b.off, t, row)).toBe(n);
    b.off += n;
  }
  return b.finish(1_795_680_010, seq, 9, true, t.minRecordLength);
}

describe('encode → decode is the identity', { timeout: 60_000 }, () => {
  it('for generated templates and records of every data type (reduced-size counters, variable length)', () => {
    fc.assert(
      fc.property(caseArb, fc.nat(), ([t, rows], seq) => {
        const msg = build(t, rows as FieldValue[][], seq);
        const res = new Decoder({ registry }).decode(msg, 'e:1', 'tcp', 0);
        expect(res.events.map((e) => e.kind)).toEqual(['template']);
        expect(res.records).toHaveLength(rows.length);
        res.records.forEach((r, k) => {
          expect(r.templateId).toBe(t.id);
          expect(r.sequenceNumber).toBe(seq);
          expect(r.scopeCount).toBe(t.scopeCount);
          const want = (rows[k] as FieldValue[]).map((v, j) => {
            const f = t.fields[j]!;
            // unsigned64 decodes as bigint; a float32 field decodes to the float32 nearest the value.
            if (f.ie.type === 'unsigned64' && typeof v === 'number') return BigInt(v);
            if (f.ie.type === 'float32' && typeof v === 'number') return Math.fround(v);
            if (f.ie.type === 'macAddress' && typeof v === 'string') return v.toLowerCase();
            return v;
          });
          expect(r.fields.map((f) => f.value)).toEqual(want);
        });
      }),
      { numRuns: 80 },
    );
  }, 60_000);

  it('IPv6 text: parse then RFC 5952 print agrees with the WHATWG URL serializer', () => {
    fc.assert(
      fc.property(fc.ipV6(), (a) => {
        const b = new Uint8Array(16);
        expect(writeIpv6(b, 0, a)).toBe(true);
        const text = formatIpv6(b, 0);
        const url = new URL(`http://[${a}]/`).hostname.slice(1, -1);
        if (!text.startsWith('::ffff:') || text.includes(':', 7)) expect(text).toBe(url);
        const again = new Uint8Array(16);
        expect(writeIpv6(again, 0, text)).toBe(true);
        expect(again).toEqual(b);
      }),
      { numRuns: 500 },
    );
  });
});

const v4 = fc.ipV4();
const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIpv6(b, 0));
const counters = fc.record({
  origPackets: fc.nat({ max: 2 ** 40 }),
  origBytes: fc.maxSafeNat(),
  replyPackets: fc.nat({ max: 2 ** 40 }),
  replyBytes: fc.maxSafeNat(),
});

const flowRecordArb: fc.Arbitrary<FlowRecord> = fc
  .record({
    v6: fc.boolean(),
    protocol: fc.constantFrom(6, 17, 132, 1, 58, 47),
    nat: fc.boolean(),
    acct: fc.boolean(),
    startUs: fc.integer({ min: 1_000_000, max: 4_000_000_000_000_000 }),
    durUs: fc.nat({ max: 10 ** 10 }),
    ports: fc.tuple(
      fc.nat({ max: 65535 }),
      fc.nat({ max: 65535 }),
      fc.nat({ max: 65535 }),
      fc.nat({ max: 65535 }),
    ),
    icmp: fc.tuple(fc.nat({ max: 255 }), fc.nat({ max: 255 })),
    delta: counters,
    total: counters,
    endReason: fc.constantFrom(1, 2, 3, 4, 5) as fc.Arbitrary<1 | 2 | 3 | 4 | 5>,
    mid: fc.boolean(),
    idx: fc.nat({ max: 0xffffffff }),
    domain: fc.constantFrom(1, 2, 0xffffffff),
  })
  .chain((g) =>
    fc.tuple(
      fc.constant(g),
      g.v6 ? fc.array(v6, { minLength: 4, maxLength: 4 }) : fc.array(v4, { minLength: 4, maxLength: 4 }),
    ),
  )
  .map(([g, a]) => {
    const icmp = g.protocol === 1 || g.protocol === 58;
    const t = (src: string, dst: string, sp: number, dp: number) =>
      icmp
        ? { ...tuple(src, dst, 0, 0), icmpType: g.icmp[0], icmpCode: g.icmp[1], icmpId: 1 }
        : tuple(src, dst, sp, dp);
    return record({
      family: g.v6 ? 'IPV6' : 'IPV4',
      protocol: g.protocol,
      orig: t(a[0]!, a[1]!, g.ports[0], g.ports[1]),
      reply: g.nat ? t(a[2]!, a[3]!, g.ports[2], g.ports[3]) : t(a[1]!, a[0]!, g.ports[1], g.ports[0]),
      nat: g.nat,
      startUs: g.startUs,
      endUs: g.startUs + g.durUs,
      delta: g.acct ? g.delta : null,
      total: g.acct ? g.total : null,
      endReason: g.endReason,
      firstSeenMidLife: g.mid,
      recordIndex: g.idx,
      observationDomainId: g.domain,
    });
  });

function expectedFields(
  r: FlowRecord,
  precisions: readonly TimePrecision[],
  totals: boolean,
): Record<string, unknown> {
  const fam = r.family === 'IPV6' ? 'IPv6' : 'IPv4';
  const ports = [6, 17, 132].includes(r.protocol);
  const icmp = (fam === 'IPv4' && r.protocol === 1) || (fam === 'IPv6' && r.protocol === 58);
  const e: Record<string, unknown> = {
    [`source${fam}Address`]: r.orig.src,
    [`destination${fam}Address`]: r.orig.dst,
    protocolIdentifier: r.protocol,
    flowEndReason: r.endReason,
    biflowDirection: 1,
    ctflowFirstSeenMidLife: r.firstSeenMidLife,
    ctflowRecordIndex: r.recordIndex,
    ctflowConntrackId: r.conntrackId,
    ctflowConntrackZone: r.zone,
    ctflowConntrackMark: r.mark,
  };
  if (ports) {
    e['sourceTransportPort'] = r.orig.srcPort;
    e['destinationTransportPort'] = r.orig.dstPort;
  }
  if (icmp) e[`icmpTypeCode${fam}`] = r.orig.icmpType! * 256 + r.orig.icmpCode!;
  if (r.nat) {
    e[`postNATSource${fam}Address`] = r.reply.dst;
    e[`postNATDestination${fam}Address`] = r.reply.src;
    if (ports) {
      e['postNAPTSourceTransportPort'] = r.reply.dstPort;
      e['postNAPTDestinationTransportPort'] = r.reply.srcPort;
    }
  }
  for (const p of precisions) {
    for (const [w, us] of [
      ['Start', r.startUs],
      ['End', r.endUs],
    ] as const) {
      if (p === 'seconds') e[`flow${w}Seconds`] = Math.floor(us / 1e6);
      if (p === 'milliseconds') e[`flow${w}Milliseconds`] = Math.floor(us / 1e3);
      if (p === 'microseconds') e[`flow${w}Microseconds`] = us;
      if (p === 'nanoseconds') e[`flow${w}Nanoseconds`] = BigInt(us) * 1000n;
    }
  }
  if (r.delta) {
    e['octetDeltaCount'] = BigInt(r.delta.origBytes);
    e['packetDeltaCount'] = BigInt(r.delta.origPackets);
    e['reverseOctetDeltaCount'] = BigInt(r.delta.replyBytes);
    e['reversePacketDeltaCount'] = BigInt(r.delta.replyPackets);
    if (totals && r.total) {
      e['octetTotalCount'] = BigInt(r.total.origBytes);
      e['packetTotalCount'] = BigInt(r.total.origPackets);
      e['reverseOctetTotalCount'] = BigInt(r.total.replyBytes);
      e['reversePacketTotalCount'] = BigInt(r.total.replyPackets);
    }
  }
  return e;
}

describe('FlowRecord → IPFIX → decoder', () => {
  it('every generated record decodes to exactly its fields; sequence numbers count data records per domain', () => {
    const precisionsArb = fc.shuffledSubarray(
      ['seconds', 'milliseconds', 'microseconds', 'nanoseconds'] as const,
      {
        minLength: 1,
      },
    );
    fc.assert(
      fc.property(
        fc.array(flowRecordArb, { minLength: 1, maxLength: 40 }),
        precisionsArb,
        fc.boolean(),
        fc.integer({ min: 512, max: 1500 }),
        (records, precisions, totals, size) => {
          // Times in the NTP types must stay inside era 0.
          const usable = precisions.some((p) => p === 'microseconds' || p === 'nanoseconds')
            ? records.filter((r) => r.endUs < 2_085_978_496_000_000)
            : records;
          const ft = new FlowTemplates({ timestamps: precisions, totals });
          const out: OutMessage[] = [];
          const s = new ExportSession({
            flowTemplates: ft,
            statsTemplate: statsTemplate(ft.registry, 280),
            maxMessageSize: size,
            clock: () => 1_795_680_010_000,
            refreshTemplates: true,
            templateRefreshMs: 600_000,
            templateRefreshMessages: 3,
            emit: (m) => out.push(m),
          });
          for (const r of usable) s.add(r);
          s.flush();
          const d = new Decoder();
          const got = out.flatMap((m) => {
            expect(m.buf.length).toBeLessThanOrEqual(size);
            const res = d.decode(m.buf, 'e:1', 'udp', 1_795_680_010_000);
            expect(res.events.filter((e) => e.kind !== 'template')).toEqual([]);
            return res.records;
          });
          expect(got).toHaveLength(usable.length);
          // Records come out per domain in input order.
          for (const dom of new Set(usable.map((r) => r.observationDomainId))) {
            const want = usable.filter((r) => r.observationDomainId === dom);
            const have = got.filter((r) => r.observationDomainId === dom);
            have.forEach((h, k) => {
              expect(Object.fromEntries(h.fields.map((f) => [f.name, f.value]))).toEqual(
                expectedFields(want[k]!, precisions, totals),
              );
            });
            const seqs = out.filter((m) => m.domain === dom);
            let sent = 0;
            for (const m of seqs) {
              expect(m.sequence).toBe(sent);
              sent += m.dataRecords;
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);

  it('never produces the seed bytes ff ff ff f1 88 6e 09 00, whatever times it is given', () => {
    const SEED = Buffer.from('fffffff1886e0900', 'hex');
    const badTime = fc.constantFrom(0, -1, -62135596800 * 1e6, -62135596800, Number.NaN, -1e15);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(flowRecordArb, fc.option(badTime), fc.option(badTime)), { maxLength: 20 }),
        (rows) => {
          const ft = new FlowTemplates({ timestamps: ['seconds', 'milliseconds', 'microseconds'] });
          const out: OutMessage[] = [];
          const s = new ExportSession({
            flowTemplates: ft,
            statsTemplate: statsTemplate(ft.registry, 280),
            maxMessageSize: 1472,
            clock: () => 1_795_680_010_000,
            refreshTemplates: false,
            templateRefreshMs: 600_000,
            templateRefreshMessages: 0,
            emit: (m) => out.push(m),
          });
          let refused = 0;
          for (const [r, s0, e0] of rows) {
            const bad = s0 !== null || e0 !== null;
            const rec = {
              ...r,
              startUs: s0 ?? r.startUs,
              endUs: e0 ?? Math.min(r.endUs, 2_085_978_000_000_000),
            };
            try {
              s.add(rec);
            } catch {
              refused++;
              continue;
            }
            expect(bad && !(rec.startUs > 0 && rec.endUs > 0)).toBe(false);
          }
          s.flush();
          for (const m of out) expect(m.buf.includes(SEED)).toBe(false);
          const decoded = out.flatMap((m) => new Decoder().decode(m.buf, 'e:1', 'tcp', 0).records);
          expect(decoded.length + refused).toBe(rows.length);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('compiled record writer (flow-codegen.ts) against the reference interpreter (flow-fields.ts)', () => {
  const weird = fc.constantFrom<unknown>(
    -1,
    0,
    1.5,
    Number.NaN,
    2 ** 53,
    65536,
    256,
    null,
    undefined,
    '7',
    true,
  );
  const paths: [string, string | null][] = [
    ['orig', 'srcPort'],
    ['orig', 'src'],
    ['reply', 'dst'],
    ['orig', 'icmpType'],
    ['startUs', null],
    ['endUs', null],
    ['delta', 'origBytes'],
    ['total', 'replyPackets'],
    ['endReason', null],
    ['firstSeenMidLife', null],
    ['recordIndex', null],
    ['zone', null],
    ['mark', null],
    ['protocol', null],
  ];
  it('write the same octets and refuse the same records, for every variant and option', () => {
    fc.assert(
      fc.property(
        flowRecordArb,
        fc.option(fc.tuple(fc.constantFrom(...paths), weird)),
        fc.shuffledSubarray(['seconds', 'milliseconds', 'microseconds', 'nanoseconds'] as const, {
          minLength: 1,
        }),
        fc.boolean(),
        (r0, mutation, precisions, totals) => {
          const r = structuredClone(r0) as unknown as Record<string, unknown>;
          if (mutation) {
            const [[a, b], v] = mutation;
            if (b === null) r[a] = v;
            else if (r[a] !== null) (r[a] as Record<string, unknown>)[b] = v;
          }
          const rec = r as unknown as FlowRecord;
          const ft = new FlowTemplates({ timestamps: precisions, totals });
          const k = variantOf(rec);
          const layout = ft.layout(k);
          const outA = Buffer.alloc(400);
          const outB = Buffer.alloc(400);
          const run = (f: () => number): string | number => {
            try {
              return f();
            } catch (e) {
              // Every refusal is the project's error with its code, never a TypeError.
              expect(isCtflowError(e, 'IPFIX_ENCODE')).toBe(true);
              return (e as Error).message;
            }
          };
          const a = run(() => ft.write(outA, 0, rec, k));
          const b = run(() =>
            writeFlowRecord(outB, new DataView(outB.buffer, outB.byteOffset, 400), 0, rec, layout),
          );
          expect(a).toEqual(b);
          if (typeof a === 'number') expect(outA).toEqual(outB);
        },
      ),
      { numRuns: 1500 },
    );
  }, 60_000);
});
