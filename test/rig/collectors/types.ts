/** The third-party IPFIX collectors the rig can start. */
export type CollectorName = 'tshark' | 'nfcapd' | 'nfacctd' | 'goflow2';

/** The transport an IPFIX exporter uses to reach a collector (RFC 7011 §10). */
export type CollectorTransport = 'udp' | 'tcp';

/**
 * One data record as a collector decoded it, normalised so tests compare collectors field by field.
 *
 * Keys are IANA element names where the collector reports the element (`sourceIPv4Address`,
 * `sourceIPv6Address`, `sourceTransportPort`, `protocolIdentifier`, `octetDeltaCount`, `packetDeltaCount`,
 * `flowEndReason`, RFC 5103 `reverseOctetDeltaCount`/`reversePacketDeltaCount`), plus:
 * - `flowStartMs` / `flowEndMs`: the flow's start/end as integer milliseconds since the Unix epoch,
 *   whichever IPFIX time element was sent (a dateTimeSeconds value s reads as s * 1000);
 * - `timePrecision`: the precision of the time element on the wire, where the collector says it (tshark);
 * - `sequenceNumber` / `observationDomainId`: from the message header, where the collector reports them.
 * Addresses are strings (IPv6 in canonical compressed form), everything else is a number.
 * Counters above 2^53 are not supported by the rig (tests stay below).
 */
export type DecodedFlow = Record<string, string | number>;

/** What `records()` is asked for. */
export interface RecordsQuery {
  /** Resolve as soon as at least this many records were decoded. */
  count: number;
  /** Give up (reject, with the collector's output in the message) after this long. Default 15 s. */
  timeoutMs?: number;
}

/** A started collector, listening on a loopback port. */
export interface CollectorHandle {
  readonly name: CollectorName;
  /** Transport it listens on. */
  readonly transport: CollectorTransport;
  /** Loopback address exporters send to. */
  readonly host: string;
  readonly port: number;
  /** Every record decoded so far, once there are at least `count` of them. */
  records(query: RecordsQuery): Promise<DecodedFlow[]>;
  /** What the collector printed (stdout/stderr/log), for failure messages. */
  diagnostics(): Promise<string>;
  /** Kills the collector (its whole process group) and removes its temporary directory. Idempotent. */
  stop(): Promise<void>;
}

/** Options common to every collector helper. */
export interface StartCollectorOptions {
  /** Default 'udp'. Rejected when the collector cannot listen on it (see COLLECTOR_INFO). */
  transport?: CollectorTransport;
  /**
   * Listen on this port instead of a free one the rig picks (e.g. a collector started after the
   * exporter that already sends there).
   */
  port?: number;
  /** How long to wait for the collector to listen. Default 20 s. */
  startTimeoutMs?: number;
}
