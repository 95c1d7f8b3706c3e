import { describe, expect, it } from 'vitest';
import { lineConntrackId, lineFingerprint } from '../../../src/conntrack/fingerprint.js';
import { fixtureLines } from './fixtures.js';

const flows = fixtureLines('dump-xml.txt').filter((l) => l.startsWith('<flow>'));
const tcp = flows.find((l) => l.includes('<state>TIME_WAIT</state>')) as string;
const fp = (line: string) => lineFingerprint(Buffer.from(line, 'latin1'));

describe('lineFingerprint', () => {
  it('ignores the fields that tick on their own (timeout, use, age)', () => {
    const aged = tcp
      .replace(/<timeout>\d+<\/timeout>/, '<timeout>3</timeout>')
      .replace(/<use>\d+<\/use>/, '<use>2</use>')
      .replace(/<deltatime>\d+<\/deltatime>/, '<deltatime>77</deltatime>');
    expect(aged).not.toBe(tcp);
    expect(fp(aged)).toBe(fp(tcp));
  });

  it.each([
    ['a counter', (l: string) => l.replace('<packets>', '<packets>1')],
    ['the state', (l: string) => l.replace('TIME_WAIT', 'CLOSE')],
    ['the mark', (l: string) => l.replace('<mark>0</mark>', '<mark>1</mark>')],
    ['a status flag', (l: string) => l.replace('<assured/>', '')],
    ['a reply address', (l: string) => l.replace(/(direction="reply">.*?<src>)10\./, '$111.')],
  ])('changes with %s', (_what, edit) => {
    expect(edit(tcp)).not.toBe(tcp);
    expect(fp(edit(tcp))).not.toBe(fp(tcp));
  });

  it('differs between all entries of a real dump, and is null for framing lines', () => {
    expect(new Set(flows.map(fp)).size).toBe(flows.length);
    expect(fp('<?xml version="1.0" encoding="utf-8"?>')).toBeNull();
    expect(fp('<conntrack>')).toBeNull();
  });
});

describe('lineConntrackId', () => {
  it('reads the id of every entry of a real dump', () => {
    for (const l of flows) {
      expect(lineConntrackId(Buffer.from(l))).toBe(Number(/<id>(\d+)<\/id>/.exec(l)![1]));
    }
    expect(lineConntrackId(Buffer.from('<flow></flow>'))).toBeNull();
  });
});
