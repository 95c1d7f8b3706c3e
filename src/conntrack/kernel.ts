import { readFile, writeFile } from 'node:fs/promises';
import { CtflowError } from '../errors.js';
import { runLines } from './run-lines.js';
import type { ClockUs } from './clock.js';

/** What the kernel provides to ctflow (per network namespace). */
export interface KernelSupport {
  /** net.netfilter.nf_conntrack_acct: per-entry packet/byte counters. */
  acct: boolean;
  /** net.netfilter.nf_conntrack_timestamp: per-entry start/stop stamps. */
  timestamp: boolean;
  /** One line per missing feature, with the exact fix. Empty when all is there. */
  warnings: string[];
}

const SYSCTLS = {
  acct: 'net.netfilter.nf_conntrack_acct',
  timestamp: 'net.netfilter.nf_conntrack_timestamp',
} as const;

const WHY: Record<keyof typeof SYSCTLS, string> = {
  acct: 'flows are reported without packet/byte counters',
  timestamp: 'flow starts fall back to the NEW event time or the first observation (less precise)',
};

function procPath(name: string): string {
  return `/proc/sys/${name.replaceAll('.', '/')}`;
}

async function readSysctl(name: string, prefix: readonly string[], clock: ClockUs): Promise<string> {
  if (prefix.length === 0) return (await readFile(procPath(name), 'utf8')).trim();
  let value = '';
  await runLines([...prefix, 'cat', procPath(name)], clock, (line) => {
    value += line;
  });
  return value.trim();
}

async function writeSysctl(name: string, prefix: readonly string[], clock: ClockUs): Promise<void> {
  if (prefix.length === 0) await writeFile(procPath(name), '1\n');
  else await runLines([...prefix, 'sysctl', '-q', '-w', `${name}=1`], clock, () => {});
}

/**
 * Reads nf_conntrack_acct and nf_conntrack_timestamp (inside the namespace `prefix` enters, if any).
 * With `enable`, sets those that are 0 to 1 (needs root; note the kernel applies them to entries
 * created afterwards). Otherwise each missing one gets a warning naming the exact fix.
 */
export async function checkKernelSupport(
  options: { prefix: readonly string[]; enable: boolean },
  clock: ClockUs,
): Promise<KernelSupport> {
  const support: KernelSupport = { acct: false, timestamp: false, warnings: [] };
  for (const key of ['acct', 'timestamp'] as const) {
    const name = SYSCTLS[key];
    let value: string;
    try {
      value = await readSysctl(name, options.prefix, clock);
    } catch (err) {
      throw new CtflowError(
        'PREREQUISITE',
        `cannot read ${name}: is nf_conntrack loaded? (modprobe nf_conntrack)`,
        {
          details: { sysctl: name },
          cause: err,
        },
      );
    }
    if (value !== '1' && options.enable) {
      try {
        await writeSysctl(name, options.prefix, clock);
        value = await readSysctl(name, options.prefix, clock);
      } catch (err) {
        throw new CtflowError('PREREQUISITE', `cannot set ${name}=1 (needs root): ${String(err)}`, {
          details: { sysctl: name },
          cause: err,
        });
      }
    }
    support[key] = value === '1';
    if (!support[key]) {
      support.warnings.push(
        `${name}=${value}: ${WHY[key]}; fix: sysctl -w ${name}=1 (or start with --enable-sysctls)`,
      );
    }
  }
  return support;
}

/** The node's boot id (/proc/sys/kernel/random/boot_id): conntrack ids restart after a reboot. */
export async function readBootId(path = '/proc/sys/kernel/random/boot_id'): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    throw new CtflowError('PREREQUISITE', `cannot read the boot id from ${path}`, {
      details: { path },
      cause: err,
    });
  }
}
