/**
 * Traffic agent: runs inside a network namespace (`ip netns exec NS node --import tsx traffic-agent.ts`),
 * reads TrafficRequest lines on stdin and answers TrafficResponse lines on stdout. One long-lived
 * process per namespace, so each generator run costs a socket call, not a process start.
 */
import { spawn } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIPv6, connect, createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';
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

function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

const servers = new Map<number, { close(): void }>();
let nextServerId = 1;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function tcpServer(req: TcpServerRequest): Promise<ServerStarted> {
  return new Promise((resolve, reject) => {
    const server: Server = createServer((sock) => {
      sock.on('data', () => {});
      sock.on('error', () => {});
      sock.on('end', () => {
        sock.end(Buffer.alloc(req.replyBytes, 0x61));
      });
    });
    server.once('error', reject);
    server.listen(req.port, req.host, () => {
      const id = nextServerId++;
      servers.set(id, server);
      const addr = server.address();
      resolve({ serverId: id, port: typeof addr === 'object' && addr !== null ? addr.port : req.port });
    });
  });
}

function tcpClient(req: TcpClientRequest): Promise<TrafficResult> {
  return new Promise((resolve, reject) => {
    const per = Math.floor(req.bytes / req.chunks);
    let received = 0;
    let localPort = 0;
    const firstPacketEarliestUs = nowUs();
    let firstPacketUs = firstPacketEarliestUs;
    const sock =
      req.localPort === undefined
        ? connect(req.port, req.host)
        : connect({ port: req.port, host: req.host, localPort: req.localPort });
    // Node issues connect(2) (which sends the SYN) on the next tick; a tick queued now runs right
    // after it, so this time is µs after the first packet, however busy this process is.
    process.nextTick(() => {
      firstPacketUs = nowUs();
    });
    sock.on('error', reject);
    sock.on('data', (d: Buffer) => {
      received += d.length;
    });
    sock.on('connect', async () => {
      localPort = sock.localPort ?? 0;
      for (let i = 0; i < req.chunks; i++) {
        const size = i === req.chunks - 1 ? req.bytes - per * (req.chunks - 1) : per;
        sock.write(Buffer.alloc(size, 0x62));
        if (i < req.chunks - 1 && req.intervalMs > 0) await sleep(req.intervalMs);
      }
      sock.end();
    });
    sock.on('close', () => {
      resolve({
        firstPacketEarliestUs,
        firstPacketUs,
        lastPacketUs: nowUs(),
        localPort,
        bytesSent: req.bytes,
        bytesReceived: received,
        messagesSent: req.chunks,
      });
    });
  });
}

function udpServer(req: UdpServerRequest): Promise<ServerStarted> {
  return new Promise((resolve, reject) => {
    const sock: UdpSocket = createSocket(isIPv6(req.host) ? 'udp6' : 'udp4');
    sock.on('message', (msg, rinfo) => sock.send(msg, rinfo.port, rinfo.address));
    sock.once('error', reject);
    sock.bind(req.port, req.host, () => {
      const id = nextServerId++;
      servers.set(id, sock);
      resolve({ serverId: id, port: sock.address().port });
    });
  });
}

function udpClient(req: UdpClientRequest): Promise<TrafficResult> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIPv6(req.host) ? 'udp6' : 'udp4');
    let received = 0;
    let answers = 0;
    let sent = 0;
    let firstPacketUs = 0;
    let firstPacketEarliestUs = 0;
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`udp-client: ${answers}/${req.requests} answers after 10 s`));
    }, 10_000);
    const sendOne = (): void => {
      const first = sent === 0;
      if (first) firstPacketEarliestUs = nowUs();
      sent += 1;
      sock.send(Buffer.alloc(req.size, 0x63), req.port, req.host);
      // The datagram goes out after an address lookup that completes on the next tick; a tick
      // queued now runs right after that send.
      if (first) {
        process.nextTick(() => {
          firstPacketUs = nowUs();
        });
      }
    };
    sock.on('message', (msg) => {
      received += msg.length;
      answers += 1;
      if (answers === req.requests) {
        const lastPacketUs = nowUs();
        clearTimeout(timer);
        const localPort = sock.address().port;
        sock.close();
        resolve({
          firstPacketEarliestUs,
          firstPacketUs,
          lastPacketUs,
          localPort,
          bytesSent: req.size * req.requests,
          bytesReceived: received,
          messagesSent: sent,
        });
      } else {
        setTimeout(sendOne, req.intervalMs);
      }
    });
    sock.on('error', reject);
    sock.bind(0, () => sendOne());
  });
}

function ping(req: PingRequest): Promise<TrafficResult> {
  return new Promise((resolve, reject) => {
    const args = ['-D', '-n', '-c', String(req.count), '-i', String(req.intervalMs / 1000), req.host];
    const child = spawn('ping', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      // "[1795682691.382885] 64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.079 ms"
      const replies = [...out.matchAll(/^\[(\d+)\.(\d{6})\] (\d+) bytes from .* time=([\d.]+) ms/gm)];
      const first = replies[0];
      const last = replies[replies.length - 1];
      if (code !== 0 || first === undefined || last === undefined || replies.length !== req.count) {
        reject(new Error(`ping ${args.join(' ')} exited ${code} with ${replies.length} replies: ${out}`));
        return;
      }
      const stamp = (m: RegExpMatchArray): number => Number(m[1]) * 1_000_000 + Number(m[2]);
      // The echo request left one round trip before its reply arrived.
      const firstPacketUs = stamp(first) - Math.round(Number(first[4]) * 1000);
      const payload = replies.reduce((sum, m) => sum + Number(m[3]), 0);
      resolve({
        firstPacketEarliestUs: firstPacketUs,
        firstPacketUs,
        lastPacketUs: stamp(last),
        localPort: 0,
        bytesSent: payload,
        bytesReceived: payload,
        messagesSent: req.count,
      });
    });
  });
}

async function handle(req: TrafficRequest): Promise<TrafficResult | ServerStarted | null> {
  switch (req.op) {
    case 'tcp-server':
      return tcpServer(req);
    case 'tcp-client':
      return tcpClient(req);
    case 'udp-server':
      return udpServer(req);
    case 'udp-client':
      return udpClient(req);
    case 'ping':
      return ping(req);
    case 'stop': {
      servers.get(req.serverId)?.close();
      servers.delete(req.serverId);
      return null;
    }
  }
}

function reply(msg: TrafficResponse): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const msg = JSON.parse(line) as { id: number; req: TrafficRequest };
  handle(msg.req).then(
    (result) => reply({ id: msg.id, ok: true, result }),
    (err: unknown) =>
      reply({ id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
// The test process closing our stdin (or dying) ends the agent and its servers.
lines.on('close', () => process.exit(0));
reply({ id: 0, ok: true, result: null });
