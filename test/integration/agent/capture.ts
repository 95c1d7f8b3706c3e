/**
 * Ground truth for packet times: dumpcap on the node namespace's veth, read back with tshark. The
 * kernel stamps each captured packet, so first/last packet times do not depend on how quickly the
 * traffic generator's event loop ran (it lags by hundreds of ms during a burst of 200 connections).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../rig/exec.js';
import { inNetns } from '../../rig/netns.js';

/** One captured packet, as seen on the wire (after DNAT). */
export interface Packet {
  /** Capture time, µs since the epoch. */
  timeUs: number;
  protocol: number;
  /** TCP/UDP ports (0 for ICMP). */
  srcPort: number;
  dstPort: number;
  /** ICMP/ICMPv6 type, null otherwise. */
  icmpType: number | null;
  family: 4 | 6;
}

/** A running capture. */
export interface Capture {
  /** Stops dumpcap and decodes what it captured. */
  stop(): Promise<Packet[]>;
}

/** Starts dumpcap on `iface` inside namespace `ns`; resolves once it captures. */
export async function startCapture(ns: string, iface = 'veth0'): Promise<Capture> {
  const dir = await mkdtemp(join(tmpdir(), 'ctflow-capture-'));
  const file = join(dir, 'cap.pcapng');
  const argv = inNetns(ns, ['dumpcap', '-q', '-i', iface, '-w', file]);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dumpcap did not start: ${stderr}`)), 10_000);
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      // dumpcap prints this once the capture handle is open.
      if (stderr.includes('Capturing on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`dumpcap exited ${code}: ${stderr}`)));
  });
  return {
    async stop() {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGINT');
      await exited;
      try {
        const { stdout } = await run(
          [
            'tshark',
            '-r',
            file,
            '-n',
            '-T',
            'fields',
            '-E',
            'separator=,',
            '-E',
            'occurrence=f',
            '-e',
            'frame.time_epoch',
            '-e',
            'ip.proto',
            '-e',
            'ipv6.nxt',
            '-e',
            'tcp.srcport',
            '-e',
            'tcp.dstport',
            '-e',
            'udp.srcport',
            '-e',
            'udp.dstport',
            '-e',
            'icmp.type',
            '-e',
            'icmpv6.type',
          ],
          { timeoutMs: 60_000 },
        );
        const packets: Packet[] = [];
        for (const line of stdout.split('\n')) {
          const [t, p4, p6, ts, td, us, ud, i4, i6] = line.split(',');
          if (!t) continue;
          const [sec, frac = ''] = t.split('.');
          const protocol = Number(p4 || p6);
          packets.push({
            timeUs: Number(sec) * 1_000_000 + Number(frac.padEnd(6, '0').slice(0, 6)),
            protocol,
            srcPort: Number(ts || us || 0),
            dstPort: Number(td || ud || 0),
            icmpType: i4 || i6 ? Number(i4 || i6) : null,
            family: p4 ? 4 : 6,
          });
        }
        return packets;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
