/**
 * The IPFIX Exporting Process (RFC 7011): FlowRecords in, IPFIX messages out to every configured
 * collector, each over its own transport session with its own sequence numbers, templates and counters.
 *
 *   const exporter = createExporter({ collectors: ['udp://127.0.0.1:4739'], observationDomainId: 42 });
 *   exporter.write(records);   // non-blocking; records are batched into MTU-sized messages
 *   await exporter.flush();    // everything written so far is sent (or buffered for reconnect / counted as dropped)
 *   exporter.stats();          // per-collector counters for metrics
 *   await exporter.close();
 *
 * Each record goes to the observation domain it names (FlowRecord.observationDomainId); the
 * exporter's own `observationDomainId` is where the first statistics records go before any record.
 */
import { CtflowError } from '../errors.js';
import type { FlowRecord, RecordSink } from '../flow/types.js';
import { type CollectorAddress, parseCollectorUrl } from './collector-url.js';
import { FLOW_VARIANTS, type FlowTemplateOptions, FlowTemplates } from './flow-templates.js';
import { HEADER_LENGTH, MAX_MESSAGE_LENGTH, SET_HEADER_LENGTH } from './message.js';
import { maxMessageSize } from './message-size.js';
import { ExportSession, type OutMessage } from './session.js';
import { statsTemplate } from './stats-template.js';
import { type Template, templateRecordLength } from './template.js';
import { createTcpTransport, type TcpTransportOptions } from './transport/tcp.js';
import { createTlsTransport, type IpfixTlsOptions } from './transport/tls.js';
import type { Transport, TransportEvents } from './transport/types.js';
import { createUdpTransport } from './transport/udp.js';

/** Exporter settings. Only `collectors` and `observationDomainId` are required. */
export interface ExporterOptions {
  /** `udp://host:port`, `tcp://host:port` and/or `tls://host:port`, one transport session each. */
  readonly collectors: readonly string[];
  /** Domain of the start-up statistics records (records carry their own domain). unsigned32. */
  readonly observationDomainId: number;
  /** exportingProcessId (IE 144) in statistics records. Default: observationDomainId. */
  readonly exportingProcessId?: number;
  /** UDP template refresh, seconds (RFC 7011 §8.4 templateRefreshTimeout). Default 600. */
  readonly templateRefreshS?: number;
  /** UDP: also re-send templates every N messages of a domain. Default 0 (off). */
  readonly templateRefreshMessages?: number;
  /** Path MTU for UDP message size, or 'unknown' (512-octet messages). Default 1500. */
  readonly mtu?: number | 'unknown';
  /** Explicit maximum message size (any transport), overriding the MTU rule. ≤ 65535. */
  readonly maxMessageSize?: number;
  /** Partly filled messages are sent after at most this long, ms. Default 100. */
  readonly flushIntervalMs?: number;
  /** Statistics options record period, seconds (RFC 7011 §4.3). Default 60; 0 = only at start. */
  readonly statsIntervalS?: number;
  /** TCP: bounded buffer while the collector is unreachable or slow, octets. Default 8 MiB. */
  readonly tcpBufferBytes?: number;
  /**
   * TCP/TLS: a written message is written again on the next connection when its connection fails within
   * this long after the write (the collector may not have read it). Default 250 ms.
   */
  readonly tcpResendWindowMs?: number;
  /** TCP reconnect backoff, ms. Defaults 100 .. 30000. */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  /**
   * tls:// collectors (RFC 7011 §11): our client certificate and key (mutual authentication), the CA that
   * signs the collectors' certificates. TLS 1.2 or later; the certificate must name the URL's host.
   */
  readonly tls?: IpfixTlsOptions;
  /** UDP: messages waiting for the socket beyond which new ones are dropped. Default 1024. */
  readonly udpMaxInFlight?: number;
  /** FlowRecord → template mapping (timestamps precision, totals, enterprise elements, PEN). */
  readonly templates?: FlowTemplateOptions;
  /** Pad data sets to a 4-octet boundary. Default false. */
  readonly padSets?: boolean;
  /** ms since the epoch, for message export times and refresh timing. Default Date.now. */
  readonly clock?: () => number;
  /** Told about refused records and transport errors (the exporter goes on). */
  readonly onError?: (err: unknown) => void;
}

/** Counters of one collector's transport session (monotonic since start). */
export interface CollectorStats {
  readonly url: string;
  readonly connected: boolean;
  /** Messages and octets handed to the socket (each message counted once, when first written). */
  readonly messages: number;
  readonly bytes: number;
  /** Flow data records sent (each counted once, when its message was first written). */
  readonly records: number;
  /** Template and options template records sent. */
  readonly templates: number;
  /** Statistics (options data) records sent. */
  readonly statsRecords: number;
  /**
   * Flow data records dropped (buffer full, send error, closed before they could be written) and the
   * messages that carried them: never sent, not in `records`.
   */
  readonly droppedRecords: number;
  readonly droppedMessages: number;
  /**
   * TCP/TLS: sent records (and their messages) written again on a new connection because the connection
   * they were written on failed within the resend window: the collector may get them twice (same
   * observation domain and sequence numbers as the first time).
   */
  readonly resentRecords: number;
  readonly resentMessages: number;
  /**
   * TCP/TLS: sent records whose connection failed within the resend window and that could not be written
   * again before close(): possibly lost (counted in `records` too).
   */
  readonly lostRecords: number;
  /** Socket errors seen (none stops the exporter). */
  readonly errors: number;
  /** TCP connections after the first. */
  readonly reconnects: number;
}

/** Exporter-wide counters. */
export interface ExporterStats {
  /** Records handed to write(). */
  readonly recordsIn: number;
  /** Records refused because a value cannot be encoded (e.g. a zero time): never sent anywhere. */
  readonly recordsRefused: number;
  readonly collectors: readonly CollectorStats[];
}

/** The exporting process: a RecordSink with counters. */
export interface IpfixExporter extends RecordSink {
  stats(): ExporterStats;
  /** Sends a statistics record to every domain of every collector now (also done on a timer). */
  sendStats(): void;
}

interface Counters {
  messages: number;
  bytes: number;
  records: number;
  templates: number;
  statsRecords: number;
  droppedRecords: number;
  droppedMessages: number;
  droppedPackets: number;
  droppedOctets: number;
  resentRecords: number;
  resentMessages: number;
  lostRecords: number;
  errors: number;
  connects: number;
}

interface Collector {
  readonly address: CollectorAddress;
  readonly session: ExportSession;
  readonly transport: Transport;
  readonly c: Counters;
}

function positive(name: string, v: number | undefined, dflt: number, min = 0): number {
  const x = v ?? dflt;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < min) {
    throw new CtflowError('CONFIG_INVALID', `${name} = ${x} is out of range`, {
      details: { field: name, value: x, expected: `a number ≥ ${min}` },
    });
  }
  return x;
}

/** Fails fast when the largest template or record of this configuration cannot fit one message. */
function checkMessageSize(ft: FlowTemplates, stats: Template, size: number, url: string): void {
  if (!Number.isInteger(size) || size < 64 || size > MAX_MESSAGE_LENGTH) {
    throw new CtflowError('CONFIG_INVALID', `maximum message size ${size} for ${url} out of range`, {
      details: { field: 'maxMessageSize', value: size, expected: '64..65535' },
    });
  }
  let need = templateRecordLength(stats);
  for (let k = 0; k < FLOW_VARIANTS; k++) {
    need = Math.max(need, ft.recordLength(k), templateRecordLength(ft.template(k)));
  }
  if (need + HEADER_LENGTH + SET_HEADER_LENGTH > size) {
    throw new CtflowError(
      'CONFIG_INVALID',
      `messages of ${size} octets to ${url} cannot hold a ${need}-octet record`,
      {
        details: {
          field: 'maxMessageSize',
          value: size,
          expected: `≥ ${need + HEADER_LENGTH + SET_HEADER_LENGTH}`,
        },
      },
    );
  }
}

/** Starts an exporting process: opens one transport per collector and sends templates and statistics. */
export function createExporter(opts: ExporterOptions): IpfixExporter {
  const clock = opts.clock ?? Date.now;
  const onError = opts.onError ?? (() => {});
  if (opts.collectors.length === 0) {
    throw new CtflowError('CONFIG_INVALID', 'no collector configured', {
      details: { field: 'collectors', value: [], expected: 'at least one udp://, tcp:// or tls:// URL' },
    });
  }
  const domain0 = opts.observationDomainId;
  if (!Number.isInteger(domain0) || domain0 < 0 || domain0 > 0xffffffff) {
    throw new CtflowError('CONFIG_INVALID', `observationDomainId ${domain0} is not an unsigned32`, {
      details: { field: 'observationDomainId', value: domain0, expected: '0..4294967295' },
    });
  }
  const exportingProcessId = opts.exportingProcessId ?? domain0;
  const refreshMs = positive('templateRefreshS', opts.templateRefreshS, 600, 0.001) * 1000;
  const refreshMessages = positive('templateRefreshMessages', opts.templateRefreshMessages, 0);
  const flushMs = positive('flushIntervalMs', opts.flushIntervalMs, 100, 1);
  const statsMs = positive('statsIntervalS', opts.statsIntervalS, 60) * 1000;
  const resendWindowMs = positive('tcpResendWindowMs', opts.tcpResendWindowMs, 250);
  const flowTemplates = new FlowTemplates(opts.templates ?? {});
  const stats = statsTemplate(flowTemplates.registry, flowTemplates.firstTemplateId + FLOW_VARIANTS);
  const startedMs = clock();
  let recordsIn = 0;
  let recordsRefused = 0;
  let closed = false;

  const collectors: Collector[] = opts.collectors.map((url) => {
    const address = parseCollectorUrl(url);
    if (address.protocol === 'tls' && (opts.tls?.cert === undefined || opts.tls.key === undefined)) {
      // RFC 7011 §11: Exporting and Collecting Processes are mutually authenticated.
      throw new CtflowError(
        'CONFIG_INVALID',
        `${address.url} needs a client certificate and key (ipfix.tls)`,
        {
          details: { field: 'ipfix.tls', value: address.url, expected: 'ipfix.tls.cert and ipfix.tls.key' },
        },
      );
    }
    const stream = address.protocol === 'udp' ? 'udp' : 'tcp';
    const size = opts.maxMessageSize ?? maxMessageSize(stream, address.host, opts.mtu ?? 1500);
    checkMessageSize(flowTemplates, stats, size, address.url);
    const c: Counters = {
      messages: 0,
      bytes: 0,
      records: 0,
      templates: 0,
      statsRecords: 0,
      droppedRecords: 0,
      droppedMessages: 0,
      droppedPackets: 0,
      droppedOctets: 0,
      resentRecords: 0,
      resentMessages: 0,
      lostRecords: 0,
      errors: 0,
      connects: 0,
    };
    const events: TransportEvents = {
      sent(m: OutMessage) {
        c.messages++;
        c.bytes += m.buf.length;
        c.records += m.flowRecords;
        c.templates += m.templateRecords;
        c.statsRecords += m.dataRecords - m.flowRecords;
      },
      dropped(m: OutMessage, reason: string, err?: unknown) {
        c.droppedMessages++;
        c.droppedRecords += m.flowRecords;
        c.droppedPackets += m.packets;
        c.droppedOctets += m.octets;
        if (m.flowRecords > 0) {
          onError(
            new CtflowError('TRANSPORT', `${address.url}: ${m.flowRecords} records dropped (${reason})`, {
              details: { collector: address.url, records: m.flowRecords, reason },
              cause: err,
            }),
          );
        }
      },
      resent(m: OutMessage) {
        c.resentMessages++;
        c.resentRecords += m.flowRecords;
      },
      lost(m: OutMessage, reason: string, err?: unknown) {
        c.lostRecords += m.flowRecords;
        if (m.flowRecords > 0) {
          onError(
            new CtflowError(
              'TRANSPORT',
              `${address.url}: ${m.flowRecords} records possibly lost (${reason})`,
              { details: { collector: address.url, records: m.flowRecords, reason }, cause: err },
            ),
          );
        }
      },
      error(err: unknown) {
        c.errors++;
        onError(err);
      },
    };
    // The transport needs the session (TCP templates on connect) and the session emits into the transport.
    let transport: Transport | undefined;
    const session = new ExportSession({
      flowTemplates,
      statsTemplate: stats,
      maxMessageSize: size,
      clock,
      refreshTemplates: address.protocol === 'udp',
      templateRefreshMs: refreshMs,
      templateRefreshMessages: refreshMessages,
      padSets: opts.padSets ?? false,
      emit: (m) => transport?.send(m),
    });
    session.touch(domain0);
    const streamOptions: TcpTransportOptions = {
      host: address.host,
      port: address.port,
      events,
      onConnect: (firstQueuedSeq) => {
        c.connects++;
        return session.templateMessages(firstQueuedSeq);
      },
      ...(opts.tcpBufferBytes === undefined ? {} : { bufferBytes: opts.tcpBufferBytes }),
      resendWindowMs,
      ...(opts.reconnectMinMs === undefined ? {} : { reconnectMinMs: opts.reconnectMinMs }),
      ...(opts.reconnectMaxMs === undefined ? {} : { reconnectMaxMs: opts.reconnectMaxMs }),
    };
    transport =
      address.protocol === 'udp'
        ? createUdpTransport({
            host: address.host,
            port: address.port,
            events,
            ...(opts.udpMaxInFlight === undefined ? {} : { maxInFlight: opts.udpMaxInFlight }),
          })
        : address.protocol === 'tcp'
          ? createTcpTransport(streamOptions)
          : createTlsTransport({ ...streamOptions, tls: opts.tls ?? {} });
    return { address, session, transport, c };
  });

  const sendStats = (): void => {
    const now = clock();
    for (const col of collectors) {
      const c = col.c;
      for (const d of col.session.domains()) {
        col.session.addStats(d, {
          exportingProcessId,
          exportedMessageTotalCount: c.messages,
          exportedOctetTotalCount: c.bytes,
          exportedFlowRecordTotalCount: c.records,
          notSentFlowTotalCount: c.droppedRecords,
          notSentPacketTotalCount: c.droppedPackets,
          notSentOctetTotalCount: c.droppedOctets,
          systemInitTimeMilliseconds: startedMs,
          observationTimeMilliseconds: now,
        });
      }
    }
  };

  const tick = (): void => {
    for (const col of collectors) {
      try {
        col.session.refreshDue();
        col.session.flush();
      } catch (err) {
        onError(err);
      }
    }
  };

  // RFC 7011 §4.3 statistics (and so the options template) at start, then periodically.
  sendStats();
  tick();
  const flushTimer = setInterval(tick, flushMs);
  const statsTimer = statsMs > 0 ? setInterval(sendStats, statsMs) : undefined;

  return {
    write(records: readonly FlowRecord[]): void {
      if (closed) {
        throw new CtflowError('TRANSPORT', 'write() after close()', { details: { records: records.length } });
      }
      for (const r of records) {
        recordsIn++;
        try {
          for (const col of collectors) col.session.add(r);
        } catch (err) {
          // The same value fails for every collector: the first refusal means no collector got it.
          recordsRefused++;
          onError(err);
        }
      }
    },
    async flush(): Promise<void> {
      tick();
      await Promise.all(collectors.map((col) => col.transport.idle()));
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      clearInterval(flushTimer);
      if (statsTimer) clearInterval(statsTimer);
      tick();
      await Promise.all(collectors.map((col) => col.transport.close()));
    },
    sendStats,
    stats(): ExporterStats {
      return {
        recordsIn,
        recordsRefused,
        collectors: collectors.map(({ address, transport, c }) => ({
          url: address.url,
          connected: transport.connected,
          messages: c.messages,
          bytes: c.bytes,
          records: c.records,
          templates: c.templates,
          statsRecords: c.statsRecords,
          droppedRecords: c.droppedRecords,
          droppedMessages: c.droppedMessages,
          resentRecords: c.resentRecords,
          resentMessages: c.resentMessages,
          lostRecords: c.lostRecords,
          errors: c.errors,
          reconnects: Math.max(0, c.connects - 1),
        })),
      };
    },
  };
}
