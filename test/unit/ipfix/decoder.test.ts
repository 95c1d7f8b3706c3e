import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decoder } from '../../../src/ipfix/decoder.js';
import { MessageFramer } from '../../../src/ipfix/framer.js';
import { MessageBuilder } from '../../../src/ipfix/message.js';
import { type InformationElement, defaultRegistry } from '../../../src/ipfix/registry.js';
import { type Template, makeTemplate, writeDataRecord } from '../../../src/ipfix/template.js';
import { golden } from './golden.js';

const reg = defaultRegistry;
const t300 = makeTemplate(300, [reg.byName('sourceIPv4Address'), reg.byName('octetDeltaCount')]);

function msg(
  parts: { template?: Template; withdraw?: number; data?: [Template, (string | number)[][]] }[],
  seq: number,
  domain = 1,
): Buffer {
  const b = new MessageBuilder(65535);
  for (const p of parts) {
    if (p.template) b.addTemplate(p.template);
    if (p.withdraw !== undefined) b.addWithdrawal(p.withdraw, false);
    if (p.data) {
      const [t, rows] = p.data;
      b.useSet(t.id);
      for (const r of rows) b.off += writeDataRecord(b.buf, b.off, t, r);
    }
  }
  return b.finish(1_795_680_010, seq, domain);
}

const kinds = (r: { events: { kind: string }[] }): string[] => r.events.map((e) => e.kind);

describe('decoder', { timeout: 30_000 }, () => {
  it('detects sequence gaps per exporter and domain', () => {
    const d = new Decoder();
    const rows = [
      ['10.0.0.1', 1],
      ['10.0.0.2', 2],
    ];
    expect(kinds(d.decode(msg([{ template: t300 }, { data: [t300, rows] }], 0), 'a:1', 'udp', 0))).toEqual([
      'template',
    ]);
    expect(kinds(d.decode(msg([{ data: [t300, rows] }], 2), 'a:1', 'udp', 0))).toEqual([]);
    const gap = d.decode(msg([{ data: [t300, rows] }], 9), 'a:1', 'udp', 0);
    expect(gap.events).toEqual([
      { kind: 'sequenceGap', exporter: 'a:1', domain: 1, expected: 4, received: 9 },
    ]);
    expect(gap.records).toHaveLength(2);
    // Another domain of the same exporter has its own numbers (and its own templates).
    const other = d.decode(msg([{ template: t300 }, { data: [t300, rows] }], 100, 2), 'a:1', 'udp', 0);
    expect(kinds(other)).toEqual(['template']);
    expect(d.stats().sequenceGaps).toBe(1);
  });

  it("keeps templates per exporter: another exporter's data with the same id is unknown", () => {
    const d = new Decoder();
    d.decode(msg([{ template: t300 }], 0), 'a:1', 'udp', 0);
    const r = d.decode(msg([{ data: [t300, [['10.0.0.1', 1]]] }], 0), 'b:1', 'udp', 0);
    expect(r.events).toEqual([
      { kind: 'unknownTemplate', exporter: 'b:1', domain: 1, templateId: 300, sequenceNumber: 0 },
    ]);
    expect(r.records).toEqual([]);
    // A message with an unknown set cannot be counted, so the next one is not reported as a gap.
    const next = d.decode(msg([{ template: t300 }, { data: [t300, [['10.0.0.1', 1]]] }], 7), 'b:1', 'udp', 0);
    expect(kinds(next)).toEqual(['template']);
    expect(next.records).toHaveLength(1);
  });

  it('applies withdrawals of one template and of all templates', () => {
    const d = new Decoder();
    const t301 = makeTemplate(301, [reg.byName('destinationIPv4Address')]);
    d.decode(msg([{ template: t300 }, { template: t301 }], 0), 'a:1', 'tcp', 0);
    expect(d.templateCount).toBe(2);
    expect(kinds(d.decode(msg([{ withdraw: 300 }], 0), 'a:1', 'tcp', 0))).toEqual(['withdrawal']);
    expect(d.templateCount).toBe(1);
    expect(kinds(d.decode(msg([{ data: [t300, [['10.0.0.1', 1]]] }], 0), 'a:1', 'tcp', 0))).toEqual([
      'unknownTemplate',
    ]);
    d.decode(msg([{ withdraw: 2 }], 0), 'a:1', 'tcp', 0);
    expect(d.templateCount).toBe(0);
  });

  it('forgets UDP templates after their lifetime, not TCP ones', () => {
    const d = new Decoder({ templateLifetimeS: 10 });
    d.decode(msg([{ template: t300 }], 0), 'u:1', 'udp', 1000);
    d.decode(msg([{ template: t300 }], 0), 't:1', 'tcp', 1000);
    const data = (seq: number): Buffer => msg([{ data: [t300, [['10.0.0.1', 1]]] }], seq);
    expect(d.decode(data(0), 'u:1', 'udp', 10_999).records).toHaveLength(1);
    expect(kinds(d.decode(data(1), 'u:1', 'udp', 11_001))).toEqual(['unknownTemplate']);
    expect(d.decode(data(0), 't:1', 'tcp', 1_000_000).records).toHaveLength(1);
  });

  it('bounds the number of templates it keeps', () => {
    const d = new Decoder({ maxTemplates: 2 });
    for (let k = 0; k < 5; k++)
      d.decode(
        msg([{ template: makeTemplate(400 + k, [reg.byName('protocolIdentifier')]) }], 0),
        'a:1',
        'tcp',
        0,
      );
    expect(d.templateCount).toBe(2);
    expect(d.stats().templatesRejected).toBe(3);
  });

  it('names elements it does not know by enterprise and id, and keeps their octets', () => {
    const unknown: InformationElement = {
      id: 77,
      pen: 99999,
      name: 'x',
      type: 'unsigned16',
      semantics: 'default',
    };
    const t = makeTemplate(310, [unknown, { ie: reg.byName('octetDeltaCount'), length: 2 }]);
    const r = new Decoder().decode(
      msg([{ template: t }, { data: [t, [[0x1234, 513]]] }], 0),
      'a:1',
      'tcp',
      0,
    );
    expect(r.records[0]?.fields).toEqual([
      { name: 'e99999.77', id: 77, pen: 99999, type: 'unknown', value: new Uint8Array([0x12, 0x34]) },
      { name: 'octetDeltaCount', id: 1, pen: 0, type: 'unsigned64', value: 513n },
    ]);
  });

  it('reports malformed messages as events with what was wrong', () => {
    const d = new Decoder();
    const good = golden('v4-biflow-1.hex');
    const cases: [Buffer, RegExp][] = [
      [good.subarray(0, 10), /shorter than the 16-octet header/],
      [Buffer.concat([Buffer.from([0, 9]), good.subarray(2)]), /version 9/],
      [good.subarray(0, good.length - 1), /header length 214/],
    ];
    const badSet = Buffer.from(good);
    badSet.writeUInt16BE(2, 18); // first set length 2
    cases.push([badSet, /set 2 at offset 16 has length 2/]);
    const zeroLen = Buffer.from(good);
    zeroLen.writeUInt16BE(0, 26); // first field's length
    cases.push([zeroLen, /has length 0/]);
    for (const [m, re] of cases) {
      const r = d.decode(m, 'a:1', 'udp', 0);
      const e = r.events.find((x) => x.kind === 'malformed');
      expect(e && e.kind === 'malformed' ? e.error.message : '').toMatch(re);
      expect(e && e.kind === 'malformed' ? e.error.code : '').toBe('IPFIX_DECODE');
    }
    expect(d.stats().malformed).toBe(cases.length);
  });

  it('survives fuzzed, truncated and random input without throwing or unbounded output', () => {
    const seeds = ['v4-biflow-1.hex', 'v6-nat-biflow.hex', 'options-stats.hex', 'variable-length.hex'].map(
      golden,
    );
    const d = new Decoder({ maxTemplates: 100 });
    const check = (m: Uint8Array): void => {
      const r = d.decode(m, 'f:1', 'udp', 0);
      expect(r.records.length).toBeLessThanOrEqual(m.length);
      expect(d.templateCount).toBeLessThanOrEqual(100);
    };
    for (const s of seeds) for (let n = 0; n <= s.length; n++) check(s.subarray(0, n));
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (seed, flips) => {
          const m = Buffer.from(seed);
          for (const [at, v] of flips) m[at % m.length] = v;
          check(m);
          // The same message with its header length fixed up, so the fuzz reaches the sets.
          m.writeUInt16BE(m.length, 2);
          check(m);
        },
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (m) => check(m)),
      { numRuns: 500 },
    );
  });
});

describe('TCP stream framing', { timeout: 30_000 }, () => {
  it('splits a stream cut anywhere into the same messages', () => {
    const stream = Buffer.concat(['v4-biflow-1.hex', 'v4-biflow-2.hex', 'options-stats.hex'].map(golden));
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 10 }),
        (cuts) => {
          const f = new MessageFramer();
          const out: Buffer[] = [];
          let prev = 0;
          for (const c of [...cuts.sort((a, b) => a - b), stream.length]) {
            out.push(...f.push(stream.subarray(prev, c)));
            prev = c;
          }
          expect(Buffer.concat(out)).toEqual(stream);
          expect(out).toHaveLength(3);
          expect(f.pendingLength).toBe(0);
        },
      ),
    );
  });

  it('refuses a stream that is not IPFIX', () => {
    expect(() => new MessageFramer().push(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(/not IPFIX/);
  });
});
