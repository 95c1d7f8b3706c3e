/**
 * Settings of the pipeline stages derived from the one configuration, so every role (run,
 * processor, replay) builds its engine and exporter the same way.
 */
import type { EngineOptions } from '../flow/types.js';
import type { ExporterOptions } from '../ipfix/exporter.js';
import type { IpfixTlsOptions } from '../ipfix/transport/tls.js';
import { observationDomainId, observationDomainIdOf } from './odid.js';
import type { Config } from './schema.js';
import { readSecretFile } from './secrets.js';

const US = 1_000_000;
const us = (seconds: number): number => Math.round(seconds * US);

/**
 * Flow engine options: durations in µs. `localNode` (embedded mode) maps this node to its configured
 * observation domain id; every other node (recordings, Kafka) gets its ipfix.observationDomains entry
 * or the stable id derived from its name.
 */
export function engineOptions(config: Config, localNode?: string): Partial<EngineOptions> {
  const localId = observationDomainId(config);
  return {
    activeTimeoutUs: us(config.flow.activeTimeout),
    idleTimeoutUs: us(config.flow.idleTimeout),
    maxLifeUs: us(config.flow.maxLife),
    nodeTimeoutUs: us(config.flow.nodeTimeout),
    suppressZeroDeltaActive: config.flow.suppressZeroDeltaActive,
    endGraceUs: us(config.flow.endGrace),
    forgetAfterUs: us(config.flow.forgetAfter),
    observationDomainId: (node) => (node === localNode ? localId : observationDomainIdOf(config, node)),
  };
}

/**
 * Certificates for tls:// collectors, read from the ipfix.tls files (CONFIG_INVALID naming the key when a
 * file is unreadable). Read only when a tls:// collector is configured.
 */
export function ipfixTlsOptions(config: Config): IpfixTlsOptions | undefined {
  if (!config.ipfix.collectors.some((url) => url.trim().startsWith('tls://'))) return undefined;
  const t = config.ipfix.tls;
  return {
    ...(t.ca === undefined ? {} : { ca: readSecretFile(t.ca, 'ipfix.tls.ca') }),
    ...(t.cert === undefined ? {} : { cert: readSecretFile(t.cert, 'ipfix.tls.cert') }),
    ...(t.key === undefined ? {} : { key: readSecretFile(t.key, 'ipfix.tls.key') }),
  };
}

/** IPFIX exporting process options for the configured collectors (TLS files read here). */
export function exporterOptions(config: Config): ExporterOptions {
  const p = config.ipfix.timestampPrecision;
  const tls = ipfixTlsOptions(config);
  return {
    collectors: config.ipfix.collectors,
    observationDomainId: observationDomainId(config),
    templateRefreshS: config.ipfix.templateRefresh,
    mtu: config.ipfix.mtu,
    tcpBufferBytes: config.ipfix.tcpBufferBytes,
    tcpResendWindowMs: config.ipfix.tcpResendWindow * 1000,
    templates: { timestamps: p === 'both' ? ['milliseconds', 'seconds'] : [p] },
    ...(tls === undefined ? {} : { tls }),
  };
}
