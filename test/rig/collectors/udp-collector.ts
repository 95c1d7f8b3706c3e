import { isListening, RIG_HOST } from './net.js';
import { pollUntil } from './poll.js';
import { type CollectorProcess, removeDir } from './process.js';
import type { CollectorHandle, CollectorName, DecodedFlow, RecordsQuery } from './types.js';

/** What differs between the UDP collectors that write what they decode to files (goflow2, nfcapd, nfacctd). */
export interface UdpCollectorSpec {
  name: Exclude<CollectorName, 'tshark'>;
  /** The started collector process. */
  proc: CollectorProcess;
  /** Its temporary directory, removed on stop. */
  dir: string;
  port: number;
  /** How long to wait for it to be ready. */
  startTimeoutMs: number;
  /** Beyond the bound port, what says it is ready (e.g. a log line); default: bound is ready. */
  ready?: () => Promise<boolean>;
  /** Every record it decoded so far (read from its output files). */
  decoded: () => Promise<DecodedFlow[]>;
  /** How often records() re-reads the output. */
  pollIntervalMs: number;
  /** What it printed, for failure messages; default the process's own output. */
  describe?: () => Promise<string>;
  /** What records() says it decoded with ("nfcapd/nfdump" rather than "nfcapd"); default the name. */
  decoderLabel?: string;
}

/**
 * Waits until a file-writing UDP collector is bound (and ready), and returns its handle: records()
 * polls its output until enough records are decoded, stop() kills it and removes its directory.
 * A collector that exits or never binds is stopped and reported with its output.
 */
export async function superviseUdpCollector(spec: UdpCollectorSpec): Promise<CollectorHandle> {
  const { name, proc, dir, port } = spec;
  const describe = spec.describe ?? (async () => proc.describe());
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await proc.stop();
    await removeDir(dir);
  };
  try {
    await pollUntil(
      async () => {
        if (proc.exit !== undefined) throw new Error(`${name} exited: ${await describe()}`);
        if (!(await isListening('udp', port))) return undefined;
        return spec.ready === undefined || (await spec.ready()) ? true : undefined;
      },
      {
        timeoutMs: spec.startTimeoutMs,
        intervalMs: 50,
        describe: async () => `${name} did not bind ${port}: ${await describe()}`,
      },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const label = spec.decoderLabel ?? name;
  return {
    name,
    transport: 'udp',
    host: RIG_HOST,
    port,
    records: (query: RecordsQuery) =>
      pollUntil(
        async () => {
          const flows = await spec.decoded();
          return flows.length >= query.count ? flows : undefined;
        },
        {
          timeoutMs: query.timeoutMs ?? 15_000,
          intervalMs: spec.pollIntervalMs,
          describe: async () =>
            `${label} decoded ${(await spec.decoded()).length} of ${query.count} records on udp/${port}: ${await describe()}`,
        },
      ),
    diagnostics: describe,
    stop,
  };
}
