import { type ExecResult, run } from './exec.js';
import { assertKernelRigPrerequisites, rigPath } from './prerequisites.js';

// `ip`, `conntrack` and `iptables` live in sbin, which non-login shells may leave off PATH.
process.env.PATH = rigPath();

/** Name prefix of every namespace the rig creates; `sweepStaleNamespaces` removes leftovers by it. */
export const NETNS_PREFIX = 'ctft-';

/** Addresses of the two ends of the veth link (the "node" side is where conntrack is read). */
export const RIG_ADDRESSES = {
  nodeV4: '10.201.0.1',
  peerV4: '10.201.0.2',
  nodeV6: 'fd00:201::1',
  peerV6: 'fd00:201::2',
} as const;

/** What the rig should set up. */
export interface NetnsOptions {
  /** net.netfilter.nf_conntrack_acct inside the namespaces (counters). Default 1. */
  acct?: 0 | 1;
  /** net.netfilter.nf_conntrack_timestamp inside the namespaces (kernel start/stop stamps). Default 1. */
  timestamp?: 0 | 1;
}

/** A pair of namespaces joined by a veth link, with conntrack tracking enabled in both. */
export interface NetnsPair extends AsyncDisposable {
  /** The namespace whose conntrack table the tests read (addresses RIG_ADDRESSES.node*). */
  node: string;
  /** The other host (addresses RIG_ADDRESSES.peer*). */
  peer: string;
  /** Runs argv inside namespace `ns` (`ip netns exec`); rejects on non-zero exit unless allowFailure. */
  exec(ns: string, argv: readonly string[], options?: { allowFailure?: boolean }): Promise<ExecResult>;
  /** Sets acct/timestamp sysctls inside both namespaces (they are per network namespace). */
  setSysctls(options: NetnsOptions): Promise<void>;
  /** Deletes both namespaces (idempotent). */
  dispose(): Promise<void>;
}

let counter = 0;

/** `ip netns exec NS argv...` as an argv, for spawning long-lived processes inside a namespace. */
export function inNetns(ns: string, argv: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv];
}

function uniqueName(role: string): string {
  counter += 1;
  // The creating pid is in the name so the sweep can tell leftovers of dead runs from live ones.
  return `${NETNS_PREFIX}${process.pid}-${counter}-${role}`;
}

async function enableTracking(ns: string): Promise<void> {
  // A rule that matches on conntrack state makes the kernel track every packet in this namespace
  // (nf_conntrack registers its hooks once a table uses it).
  for (const tool of ['iptables', 'ip6tables']) {
    for (const chain of ['INPUT', 'OUTPUT']) {
      await run(
        inNetns(ns, [
          tool,
          '-A',
          chain,
          '-m',
          'conntrack',
          '--ctstate',
          'NEW,ESTABLISHED,RELATED',
          '-j',
          'ACCEPT',
        ]),
      );
    }
  }
}

async function setNsSysctls(ns: string, options: NetnsOptions): Promise<void> {
  await run(
    inNetns(ns, [
      'sysctl',
      '-q',
      '-w',
      `net.netfilter.nf_conntrack_acct=${options.acct ?? 1}`,
      `net.netfilter.nf_conntrack_timestamp=${options.timestamp ?? 1}`,
    ]),
  );
}

/**
 * Creates two uniquely named namespaces ("node" and "peer") joined by a veth link carrying
 * 10.201.0.0/24 and fd00:201::/64, with conntrack tracking and the requested sysctls in both.
 * Use with `await using` or call `dispose()` in `afterEach`/`finally`: teardown runs even when the
 * set-up itself fails half way.
 */
export async function createNetnsPair(options: NetnsOptions = {}): Promise<NetnsPair> {
  await assertKernelRigPrerequisites();
  const node = uniqueName('n');
  const peer = uniqueName('p');
  let disposed = false;
  const dispose = async (): Promise<void> => {
    if (disposed) return;
    disposed = true;
    // Deleting the namespace kills its veth end (and the peer's) and its conntrack table.
    for (const ns of [node, peer]) await run(['ip', 'netns', 'del', ns], { allowFailure: true });
  };
  try {
    for (const ns of [node, peer]) {
      await run(['ip', 'netns', 'add', ns]);
      await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    await run([
      'ip',
      '-n',
      node,
      'link',
      'add',
      'veth0',
      'type',
      'veth',
      'peer',
      'name',
      'veth0',
      'netns',
      peer,
    ]);
    const ends: Array<[string, string, string]> = [
      [node, RIG_ADDRESSES.nodeV4, RIG_ADDRESSES.nodeV6],
      [peer, RIG_ADDRESSES.peerV4, RIG_ADDRESSES.peerV6],
    ];
    for (const [ns, v4, v6] of ends) {
      await run(['ip', '-n', ns, 'addr', 'add', `${v4}/24`, 'dev', 'veth0']);
      // nodad: the address is usable at once instead of after duplicate address detection (~1 s).
      await run(['ip', '-n', ns, 'addr', 'add', `${v6}/64`, 'dev', 'veth0', 'nodad']);
      await run(['ip', '-n', ns, 'link', 'set', 'veth0', 'up']);
      await enableTracking(ns);
      await setNsSysctls(ns, options);
    }
  } catch (err) {
    await dispose();
    throw err;
  }
  return {
    node,
    peer,
    exec: (ns, argv, execOptions) => run(inNetns(ns, argv), execOptions ?? {}),
    setSysctls: async (o) => {
      for (const ns of [node, peer]) await setNsSysctls(ns, o);
    },
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes namespaces left behind by earlier runs (name starts with `prefix` and the creating
 * process is gone). Namespaces of live processes, e.g. a parallel test run, are left alone.
 * Returns the names deleted.
 */
export async function sweepStaleNamespaces(prefix: string = NETNS_PREFIX): Promise<string[]> {
  const { stdout } = await run(['ip', 'netns', 'list']);
  const deleted: string[] = [];
  for (const line of stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) continue;
    await run(['ip', 'netns', 'del', name], { allowFailure: true });
    deleted.push(name);
  }
  return deleted;
}
