import { startGoflow2 } from './goflow2.js';
import { startNfacctd } from './nfacctd.js';
import { startNfcapd } from './nfcapd.js';
import { startTshark } from './tshark.js';
import type { CollectorHandle, CollectorName, CollectorTransport, StartCollectorOptions } from './types.js';

export type { NfcapdHandle } from './nfcapd.js';
export type { PdmlMessage, TsharkHandle } from './tshark.js';
export { startGoflow2, startNfacctd, startNfcapd, startTshark };
export type * from './types.js';

/** What each collector of the rig can do, as measured on Debian 12 packages and goflow2 v2.2.6. */
export interface CollectorInfo {
  /** Transports it receives IPFIX on. */
  transports: readonly CollectorTransport[];
  /** Normalised fields (types.ts) it reports; tests compare only these. */
  fields: readonly string[];
  /** Time element precisions whose values it decodes into flowStartMs/flowEndMs. */
  timePrecisions: readonly ('seconds' | 'milliseconds')[];
  /** Where it comes from, for error messages and the CI script. */
  install: string;
}

const COMMON = [
  'sourceIPv4Address',
  'destinationIPv4Address',
  'sourceIPv6Address',
  'destinationIPv6Address',
  'sourceTransportPort',
  'destinationTransportPort',
  'protocolIdentifier',
  'octetDeltaCount',
  'packetDeltaCount',
  'reverseOctetDeltaCount',
  'reversePacketDeltaCount',
  'flowStartMs',
  'flowEndMs',
] as const;

/** Post-NAT (RFC 7012 IE 225-228) and ICMP elements, for collectors that decode them. */
const NAT_ICMP = [
  'postNATSourceIPv4Address',
  'postNATDestinationIPv4Address',
  'postNAPTSourceTransportPort',
  'postNAPTDestinationTransportPort',
  'icmpTypeCodeIPv4',
] as const;

/** Capabilities of each collector; see each start function for the details. */
export const COLLECTOR_INFO: Readonly<Record<CollectorName, CollectorInfo>> = {
  tshark: {
    transports: ['udp', 'tcp'],
    fields: [
      ...COMMON,
      ...NAT_ICMP,
      'flowEndReason',
      'timePrecision',
      'sequenceNumber',
      'observationDomainId',
    ],
    timePrecisions: ['seconds', 'milliseconds'],
    install: 'apt-get install -y tshark',
  },
  nfcapd: {
    transports: ['udp'],
    // nfdump 1.7 stores no flowEndReason and no per-record sequence number.
    fields: [...COMMON, ...NAT_ICMP],
    // nfdump 1.7.1 reads flowStartSeconds/flowEndSeconds (IE 150/151) as 0 (1970-01-01): measured.
    timePrecisions: ['milliseconds'],
    install: 'apt-get install -y nfdump',
  },
  nfacctd: {
    transports: ['udp'],
    fields: [...COMMON, ...NAT_ICMP, 'flowEndReason', 'sequenceNumber'],
    timePrecisions: ['seconds', 'milliseconds'],
    install: 'apt-get install -y pmacct',
  },
  goflow2: {
    transports: ['udp'],
    fields: [...COMMON, ...NAT_ICMP, 'flowEndReason', 'sequenceNumber'],
    timePrecisions: ['seconds', 'milliseconds'],
    install: 'bash scripts/install-goflow2.sh',
  },
};

/** Every collector of the rig, in a stable order. */
export const COLLECTOR_NAMES: readonly CollectorName[] = ['tshark', 'nfcapd', 'nfacctd', 'goflow2'];

/** Starts collector `name` on a free loopback port and resolves once it listens. */
export function startCollector(
  name: CollectorName,
  options: StartCollectorOptions = {},
): Promise<CollectorHandle> {
  switch (name) {
    case 'tshark':
      return startTshark(options);
    case 'nfcapd':
      return startNfcapd(options);
    case 'nfacctd':
      return startNfacctd(options);
    case 'goflow2':
      return startGoflow2(options);
  }
}
