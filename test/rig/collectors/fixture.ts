import { readFile } from 'node:fs/promises';

/**
 * Bytes of a hand-written hex fixture: `#` starts a comment to the end of the line, whitespace is
 * ignored, everything else must be hex digits in pairs.
 */
export async function readHexFixture(path: string): Promise<Buffer> {
  const text = await readFile(path, 'utf8');
  const hex = text
    .split('\n')
    .map((line) => line.replace(/#.*/, ''))
    .join('')
    .replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new Error(`${path}: not an even run of hex digits`);
  return Buffer.from(hex, 'hex');
}
