/** The IPFIX Observation Domain ID of a node (RFC 7011 §3.1: non-zero, unique per exporter domain). */
import { defaultObservationDomainId } from '../flow/domain-id.js';
import type { Config } from './schema.js';

/** A stable ODID derived from a node name (FNV-1a 32-bit, never 0): see src/flow/domain-id.ts. */
export const observationDomainIdForNode = defaultObservationDomainId;

/** This node's ODID: node.observationDomainId if configured, else ipfix.observationDomains, else derived. */
export function observationDomainId(config: Config): number {
  return config.node.observationDomainId ?? observationDomainIdOf(config, config.node.name);
}

/** The ODID of any node: ipfix.observationDomains[node] if listed, else derived from its name. */
export function observationDomainIdOf(config: Config, node: string): number {
  return config.ipfix.observationDomains[node] ?? observationDomainIdForNode(node);
}
