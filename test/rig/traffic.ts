import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { inNetns } from './netns.js';
import type {
  PingRequest,
  ServerStarted,
  TcpClientRequest,
  TcpServerRequest,
  TrafficRequest,
  TrafficResponse,
  TrafficResult,
  UdpClientRequest,
  UdpServerRequest,
} from './traffic-protocol.js';

export type { TrafficResult } from './traffic-protocol.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = join(HERE, '..', '..');

/** Traffic generators running inside one namespace; every call resolves with exact packet times. */
export interface TrafficAgent extends AsyncDisposable {
  readonly ns: string;
  tcpServer(req: Omit<TcpServerRequest, 'op'>): Promise<ServerStarted>;
  tcpClient(req: Omit<TcpClientRequest, 'op'>): Promise<TrafficResult>;
  udpServer(req: Omit<UdpServerRequest, 'op'>): Promise<ServerStarted>;
  udpClient(req: Omit<UdpClientRequest, 'op'>): Promise<TrafficResult>;
  ping(req: Omit<PingRequest, 'op'>): Promise<TrafficResult>;
  stopServer(serverId: number): Promise<void>;
  /** Ends the agent process (and its servers). Idempotent. */
  dispose(): Promise<void>;
}

/**
 * Starts the traffic agent inside namespace `ns` and waits until it is ready (about 1 s: tsx start-up).
 */
export async function startTrafficAgent(ns: string): Promise<TrafficAgent> {
  const argv = inNetns(ns, [process.execPath, '--import', 'tsx', join(HERE, 'traffic-agent.ts')]);
  // cwd = repository root so `--import tsx` resolves from this project's node_modules.
  const child: ChildProcessWithoutNullStreams = spawn(argv[0]!, argv.slice(1), {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  let stderr = '';
  let exited = false;
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const ready = new Promise<void>((resolve, reject) => {
    pending.set(0, { resolve: () => resolve(), reject });
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const msg = JSON.parse(line) as TrafficResponse;
    const waiter = pending.get(msg.id);
    if (waiter === undefined) return;
    pending.delete(msg.id);
    if (msg.ok) waiter.resolve(msg.result);
    else waiter.reject(new Error(`traffic agent in ${ns}: ${msg.error}`));
  });
  child.on('exit', (code) => {
    exited = true;
    for (const w of pending.values()) w.reject(new Error(`traffic agent in ${ns} exited ${code}: ${stderr}`));
    pending.clear();
  });
  await ready;

  const call = <T>(req: TrafficRequest): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (exited) {
        reject(new Error(`traffic agent in ${ns} is gone: ${stderr}`));
        return;
      }
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.stdin.write(`${JSON.stringify({ id, req })}\n`);
    });
  const dispose = async (): Promise<void> => {
    if (exited) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(timer);
  };
  return {
    ns,
    tcpServer: (r) => call({ op: 'tcp-server', ...r }),
    tcpClient: (r) => call({ op: 'tcp-client', ...r }),
    udpServer: (r) => call({ op: 'udp-server', ...r }),
    udpClient: (r) => call({ op: 'udp-client', ...r }),
    ping: (r) => call({ op: 'ping', ...r }),
    stopServer: async (serverId) => {
      await call({ op: 'stop', serverId });
    },
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}
