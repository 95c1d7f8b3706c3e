/** Reads the hand-built golden messages under test/fixtures/ipfix-golden/ ('#' comments, hex octets). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('../../fixtures/ipfix-golden/', import.meta.url));

/** The octets of fixture `name`. */
export function golden(name: string): Buffer {
  const text = readFileSync(`${DIR}${name}`, 'utf8');
  const hex = text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('')
    .replace(/\s+/g, '');
  return Buffer.from(hex, 'hex');
}

/** Hex text with a space every octet, for readable diffs. */
export function hexOf(b: Uint8Array): string {
  return Buffer.from(b)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');
}
