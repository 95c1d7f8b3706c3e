import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** A binary the kernel rig needs, and the Debian package that provides it. */
const TOOLS: ReadonlyArray<{ bin: string; pkg: string }> = [
  { bin: 'ip', pkg: 'iproute2' },
  { bin: 'conntrack', pkg: 'conntrack' },
  { bin: 'iptables', pkg: 'iptables' },
  { bin: 'ip6tables', pkg: 'iptables' },
  { bin: 'ping', pkg: 'iputils-ping' },
];

async function onPath(bin: string): Promise<boolean> {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin']);
  for (const dir of dirs) {
    try {
      await access(join(dir, bin), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/**
 * Fails with one message naming everything the kernel rig lacks (root, binaries) and the
 * apt packages that provide them, so a fresh machine says exactly what to install.
 */
export async function assertKernelRigPrerequisites(): Promise<void> {
  const problems: string[] = [];
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    problems.push('root is required to create network namespaces (run the tests as root, e.g. sudo)');
  }
  const missing: Array<{ bin: string; pkg: string }> = [];
  for (const tool of TOOLS) if (!(await onPath(tool.bin))) missing.push(tool);
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))].join(' ');
    problems.push(
      `missing ${missing.map((m) => m.bin).join(', ')}: install with \`apt-get install -y ${pkgs}\``,
    );
  }
  try {
    await access('/proc/sys/net/netfilter/nf_conntrack_acct', constants.R_OK);
  } catch {
    problems.push(
      'kernel conntrack is not available (/proc/sys/net/netfilter/nf_conntrack_acct missing): `modprobe nf_conntrack`',
    );
  }
  if (problems.length > 0) throw new Error(`kernel rig prerequisites missing: ${problems.join('; ')}`);
}

/** PATH with the sbin directories added (`ip`, `conntrack` live there and some shells omit them). */
export function rigPath(): string {
  const parts = (process.env.PATH ?? '').split(delimiter).filter((p) => p !== '');
  for (const extra of ['/usr/sbin', '/sbin', '/usr/bin', '/bin'])
    if (!parts.includes(extra)) parts.push(extra);
  return parts.join(delimiter);
}
