/**
 * Messages between the test process and the traffic agent (test/rig/traffic-agent.ts) that runs inside
 * a network namespace. One JSON object per line in each direction. All times are wall-clock µs since
 * the Unix epoch, taken by the agent right at the socket call.
 */

/** Starts a TCP server that reads everything, then answers `replyBytes` bytes and closes. */
export interface TcpServerRequest {
  op: 'tcp-server';
  host: string;
  port: number;
  replyBytes: number;
}

/** Connects, sends `bytes` in `chunks` writes spaced `intervalMs` apart, closes, waits for the peer's close. */
export interface TcpClientRequest {
  op: 'tcp-client';
  host: string;
  port: number;
  bytes: number;
  chunks: number;
  intervalMs: number;
  /**
   * Client port to bind (SO_REUSEADDR, as Node binds: a port whose only other socket is in
   * TIME_WAIT towards another destination can be taken again); default: the kernel picks one.
   */
  localPort?: number;
}

/** Starts a UDP server that echoes every datagram. */
export interface UdpServerRequest {
  op: 'udp-server';
  host: string;
  port: number;
}

/** Sends `requests` datagrams of `size` bytes, each answered by the echo server, `intervalMs` apart. */
export interface UdpClientRequest {
  op: 'udp-client';
  host: string;
  port: number;
  requests: number;
  size: number;
  intervalMs: number;
}

/** Runs `ping -c count` (ICMP or ICMPv6 by address family). */
export interface PingRequest {
  op: 'ping';
  host: string;
  count: number;
  intervalMs: number;
}

/** Stops a server started earlier. */
export interface StopRequest {
  op: 'stop';
  serverId: number;
}

export type TrafficRequest =
  | TcpServerRequest
  | TcpClientRequest
  | UdpServerRequest
  | UdpClientRequest
  | PingRequest
  | StopRequest;

/** What a client run did, with the times of its first and last packets. */
export interface TrafficResult {
  /**
   * Taken just before the call that sent the first packet: the first packet is in
   * [firstPacketEarliestUs, firstPacketUs]. The two differ by µs unless the generator was descheduled
   * (measured up to ~13 ms on a loaded 2-core machine).
   */
  firstPacketEarliestUs: number;
  /**
   * When the first packet left: taken right after the syscall that sent it (connect(2), sendmsg(2)),
   * or for ping the first reply's time minus its round trip.
   */
  firstPacketUs: number;
  /** Just after the last packet of the exchange was seen (TCP close, last reply): an upper bound. */
  lastPacketUs: number;
  /** Local (source) port of the client socket; 0 for ICMP. */
  localPort: number;
  /** Payload bytes sent and received (transport payload, not IP bytes). */
  bytesSent: number;
  bytesReceived: number;
  /** Packets/messages sent by the client (datagrams, echo requests, or TCP writes). */
  messagesSent: number;
}

/** Reply to a server request. */
export interface ServerStarted {
  serverId: number;
  port: number;
}

/** One line from the agent. */
export type TrafficResponse =
  | { id: number; ok: true; result: TrafficResult | ServerStarted | null }
  | { id: number; ok: false; error: string };
