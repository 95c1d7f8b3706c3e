import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exporterOptions, ipfixTlsOptions } from '../../../src/config/derive.js';
import { parseConfig } from '../../../src/config/load.js';
import { isCtflowError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'ctflow-derive-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('exporterOptions: ipfix.tls', () => {
  it('reads the CA, certificate and key files for tls:// collectors', () => {
    const config = parseConfig({
      ipfix: {
        collectors: ['tls://c.example:4740', 'udp://10.0.0.9:4739'],
        tls: { ca: file('ca.pem', 'CA\n'), cert: file('c.pem', 'CERT\n'), key: file('k.pem', 'KEY\n') },
      },
    });
    expect(exporterOptions(config).tls).toEqual({ ca: 'CA', cert: 'CERT', key: 'KEY' });
  });

  it('reads nothing when no collector uses tls:// (files named but absent are not an error)', () => {
    const config = parseConfig({
      ipfix: { collectors: ['tcp://c.example:4739'], tls: { cert: join(dir, 'missing.pem') } },
    });
    expect(ipfixTlsOptions(config)).toBeUndefined();
    expect(exporterOptions(config)).not.toHaveProperty('tls');
  });

  it('an unreadable file is CONFIG_INVALID naming the key and the path', () => {
    const missing = join(dir, 'nope.key');
    const config = parseConfig({
      ipfix: { collectors: ['tls://c.example:4740'], tls: { cert: file('c2.pem', 'CERT'), key: missing } },
    });
    let err: unknown;
    try {
      exporterOptions(config);
    } catch (e) {
      err = e;
    }
    expect(isCtflowError(err, 'CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toBe(
      `invalid configuration: ipfix.tls.key = "${missing}": cannot read the file (ENOENT), expected a readable file`,
    );
  });
});
