/** A loopback IPFIX collector for the exporter tests: ctflow's own listener and decoder. */
import { parseCollectorUrl } from '../../../src/ipfix/collector-url.js';
import { type DecodeEvent, type DecodedRecord, Decoder } from '../../../src/ipfix/decoder.js';
import { type Listener, listen } from '../../../src/ipfix/transport/listener.js';

/** What a test collector received. */
export interface TestCollector {
  readonly url: string;
  readonly port: number;
  /** Raw messages with their exporter (address:port; a new one per TCP connection). */
  readonly messages: { exporter: string; buf: Buffer }[];
  readonly records: DecodedRecord[];
  readonly events: DecodeEvent[];
  /** Flow records only (not the statistics options records). */
  flows(): DecodedRecord[];
  /** A fresh decoder, as after a collector restart (templates forgotten). */
  forgetTemplates(): void;
  close(): Promise<void>;
}

/** Starts a collector on 127.0.0.1 (port 0 = any). */
export async function startCollector(protocol: 'udp' | 'tcp', port = 0): Promise<TestCollector> {
  let decoder = new Decoder();
  const messages: TestCollector['messages'] = [];
  const records: DecodedRecord[] = [];
  const events: DecodeEvent[] = [];
  const listener: Listener = await listen(parseCollectorUrl(`${protocol}://127.0.0.1:${port}`, true), {
    message(buf, exporter, transport) {
      messages.push({ exporter, buf: Buffer.from(buf) });
      const r = decoder.decode(buf, exporter, transport, Date.now());
      records.push(...r.records);
      events.push(...r.events);
    },
    error() {},
  });
  return {
    url: `${protocol}://127.0.0.1:${listener.port}`,
    port: listener.port,
    messages,
    records,
    events,
    flows: () => records.filter((r) => r.scopeCount === 0),
    forgetTemplates() {
      decoder = new Decoder();
    },
    close: () => listener.close(),
  };
}

/** Polls `cond` every 10 ms until true; fails after `ms`. */
export async function until(cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A port on 127.0.0.1 that nothing listens on right now (for "collector not up yet" tests). */
export async function freePort(protocol: 'udp' | 'tcp'): Promise<number> {
  const c = await startCollector(protocol);
  const p = c.port;
  await c.close();
  return p;
}
