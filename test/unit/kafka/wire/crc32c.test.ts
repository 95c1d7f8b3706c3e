import { createRequire } from 'node:module';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { crc32c } from '../../../../src/kafka/wire/crc32c.js';

test('CRC-32C check value (RFC 3720 B.4: "123456789" -> 0xE3069283) and the iSCSI test vectors', () => {
  expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
  expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
  expect(crc32c(Buffer.alloc(0))).toBe(0);
});

test("equals kafkajs' byte-at-a-time CRC-32C on any bytes and range", () => {
  const require = createRequire(import.meta.url);
  const kafkajsCrc = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(20), (bytes, cut) => {
      const buf = Buffer.from(bytes);
      const start = Math.min(cut, buf.length);
      expect(crc32c(buf, start, buf.length)).toBe(kafkajsCrc(buf.subarray(start)));
    }),
  );
});
