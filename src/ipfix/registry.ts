/**
 * The Information Elements ctflow uses: one table (IANA "IPFIX Information Elements" registry subset,
 * names and types as IANA spells them), the RFC 5103 reverse elements derived from it, and ctflow's
 * own enterprise-specific elements under a configurable Private Enterprise Number.
 * Edit the tables, never the derived maps.
 */
import { CtflowError } from '../errors.js';
import type { DataType } from './datatypes.js';

/** IANA data type semantics (RFC 7012 §3.2); counters are the only fields ctflow may reduce in size. */
export type Semantics = 'default' | 'quantity' | 'totalCounter' | 'deltaCounter' | 'identifier' | 'flags';

/** One Information Element: enterprise number 0 for IANA elements. */
export interface InformationElement {
  readonly id: number;
  readonly pen: number;
  readonly name: string;
  readonly type: DataType;
  readonly semantics: Semantics;
}

/** RFC 5103 §6.1: reverse Information Elements use this Private Enterprise Number. */
export const REVERSE_PEN = 29305;

/**
 * Default Private Enterprise Number for ctflow's own elements: 32473 is reserved by IANA for
 * documentation (RFC 5612). Operators with their own PEN configure it (`enterprisePen`).
 */
export const DEFAULT_CTFLOW_PEN = 32473;

type Row = readonly [id: number, name: string, type: DataType, semantics?: Semantics];

/** IANA elements (https://www.iana.org/assignments/ipfix, element id, name, abstract data type). */
const IANA: readonly Row[] = [
  [1, 'octetDeltaCount', 'unsigned64', 'deltaCounter'],
  [2, 'packetDeltaCount', 'unsigned64', 'deltaCounter'],
  [4, 'protocolIdentifier', 'unsigned8', 'identifier'],
  [5, 'ipClassOfService', 'unsigned8', 'identifier'],
  [6, 'tcpControlBits', 'unsigned16', 'flags'],
  [7, 'sourceTransportPort', 'unsigned16', 'identifier'],
  [8, 'sourceIPv4Address', 'ipv4Address'],
  [10, 'ingressInterface', 'unsigned32', 'identifier'],
  [11, 'destinationTransportPort', 'unsigned16', 'identifier'],
  [12, 'destinationIPv4Address', 'ipv4Address'],
  [14, 'egressInterface', 'unsigned32', 'identifier'],
  [27, 'sourceIPv6Address', 'ipv6Address'],
  [28, 'destinationIPv6Address', 'ipv6Address'],
  [32, 'icmpTypeCodeIPv4', 'unsigned16', 'identifier'],
  [40, 'exportedOctetTotalCount', 'unsigned64', 'totalCounter'],
  [41, 'exportedMessageTotalCount', 'unsigned64', 'totalCounter'],
  [42, 'exportedFlowRecordTotalCount', 'unsigned64', 'totalCounter'],
  [56, 'sourceMacAddress', 'macAddress'],
  [80, 'destinationMacAddress', 'macAddress'],
  [82, 'interfaceName', 'string'],
  [85, 'octetTotalCount', 'unsigned64', 'totalCounter'],
  [86, 'packetTotalCount', 'unsigned64', 'totalCounter'],
  [130, 'exporterIPv4Address', 'ipv4Address'],
  [131, 'exporterIPv6Address', 'ipv6Address'],
  [136, 'flowEndReason', 'unsigned8', 'identifier'],
  [139, 'icmpTypeCodeIPv6', 'unsigned16', 'identifier'],
  [144, 'exportingProcessId', 'unsigned32', 'identifier'],
  [148, 'flowId', 'unsigned64', 'identifier'],
  [149, 'observationDomainId', 'unsigned32', 'identifier'],
  [150, 'flowStartSeconds', 'dateTimeSeconds'],
  [151, 'flowEndSeconds', 'dateTimeSeconds'],
  [152, 'flowStartMilliseconds', 'dateTimeMilliseconds'],
  [153, 'flowEndMilliseconds', 'dateTimeMilliseconds'],
  [154, 'flowStartMicroseconds', 'dateTimeMicroseconds'],
  [155, 'flowEndMicroseconds', 'dateTimeMicroseconds'],
  [156, 'flowStartNanoseconds', 'dateTimeNanoseconds'],
  [157, 'flowEndNanoseconds', 'dateTimeNanoseconds'],
  [160, 'systemInitTimeMilliseconds', 'dateTimeMilliseconds'],
  [164, 'ignoredPacketTotalCount', 'unsigned64', 'totalCounter'],
  [165, 'ignoredOctetTotalCount', 'unsigned64', 'totalCounter'],
  [166, 'notSentFlowTotalCount', 'unsigned64', 'totalCounter'],
  [167, 'notSentPacketTotalCount', 'unsigned64', 'totalCounter'],
  [168, 'notSentOctetTotalCount', 'unsigned64', 'totalCounter'],
  [176, 'icmpTypeIPv4', 'unsigned8', 'identifier'],
  [177, 'icmpCodeIPv4', 'unsigned8', 'identifier'],
  [178, 'icmpTypeIPv6', 'unsigned8', 'identifier'],
  [179, 'icmpCodeIPv6', 'unsigned8', 'identifier'],
  [210, 'paddingOctets', 'octetArray'],
  [225, 'postNATSourceIPv4Address', 'ipv4Address'],
  [226, 'postNATDestinationIPv4Address', 'ipv4Address'],
  [227, 'postNAPTSourceTransportPort', 'unsigned16', 'identifier'],
  [228, 'postNAPTDestinationTransportPort', 'unsigned16', 'identifier'],
  [239, 'biflowDirection', 'unsigned8', 'identifier'],
  [276, 'dataRecordsReliability', 'boolean'],
  [281, 'postNATSourceIPv6Address', 'ipv6Address'],
  [282, 'postNATDestinationIPv6Address', 'ipv6Address'],
  [300, 'observationDomainName', 'string'],
  [311, 'samplingProbability', 'float64', 'quantity'],
  [313, 'ipHeaderPacketSection', 'octetArray'],
  [322, 'observationTimeSeconds', 'dateTimeSeconds'],
  [323, 'observationTimeMilliseconds', 'dateTimeMilliseconds'],
  [324, 'observationTimeMicroseconds', 'dateTimeMicroseconds'],
  [325, 'observationTimeNanoseconds', 'dateTimeNanoseconds'],
];

/**
 * ctflow's enterprise-specific elements (ids under the configured PEN). Conntrack facts that no IANA
 * element carries honestly.
 */
const CTFLOW: readonly Row[] = [
  // True on the first record of a connection that existed before ctflow first saw it: its start is the
  // first observation and its deltas include earlier traffic (FlowRecord.firstSeenMidLife).
  [1, 'ctflowFirstSeenMidLife', 'boolean'],
  // 0 for a flow's first record, then 1, 2, ...: collectors can see gaps and repeats.
  [2, 'ctflowRecordIndex', 'unsigned32', 'identifier'],
  // Kernel conntrack entry id; reused by the kernel, so not an IANA flowId (IE 148).
  [3, 'ctflowConntrackId', 'unsigned32', 'identifier'],
  [4, 'ctflowConntrackZone', 'unsigned16', 'identifier'],
  [5, 'ctflowConntrackMark', 'unsigned32', 'flags'],
];

/** IANA elements RFC 5103 §6.1 says have no reverse counterpart (they describe the record, not a direction). */
const NOT_REVERSIBLE = new Set([
  130, 131, 137, 144, 145, 148, 149, 173, 210, 211, 212, 213, 214, 215, 216, 217, 239,
]);

function capitalize(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function keyOf(pen: number, id: number): number {
  return pen * 65536 + id;
}

/** A lookup over a set of Information Elements by (enterprise, id) and by name. */
export class Registry {
  readonly #byKey = new Map<number, InformationElement>();
  readonly #byName = new Map<string, InformationElement>();
  /** The enterprise number ctflow's own elements are registered under. */
  readonly ctflowPen: number;

  constructor(elements: Iterable<InformationElement>, ctflowPen: number) {
    this.ctflowPen = ctflowPen;
    for (const ie of elements) this.add(ie);
  }

  /** Registers an element; a different element under the same key or name is a programming error. */
  add(ie: InformationElement): void {
    const key = keyOf(ie.pen, ie.id);
    const prior = this.#byKey.get(key) ?? this.#byName.get(ie.name);
    if (prior !== undefined && (prior.id !== ie.id || prior.pen !== ie.pen || prior.type !== ie.type)) {
      throw new CtflowError('IPFIX_TEMPLATE', `Information Element ${ie.name} conflicts with ${prior.name}`, {
        details: { element: ie, existing: prior },
      });
    }
    this.#byKey.set(key, ie);
    this.#byName.set(ie.name, ie);
  }

  /** The element with this enterprise number and id, or undefined. */
  get(pen: number, id: number): InformationElement | undefined {
    return this.#byKey.get(keyOf(pen, id));
  }

  /** The element with this name; throws IPFIX_TEMPLATE when ctflow does not know it. */
  byName(name: string): InformationElement {
    const ie = this.#byName.get(name);
    if (ie === undefined) {
      throw new CtflowError('IPFIX_TEMPLATE', `unknown Information Element name "${name}"`, {
        details: { element: name, expected: 'a name from src/ipfix/registry.ts' },
      });
    }
    return ie;
  }

  /** Every registered element. */
  all(): IterableIterator<InformationElement> {
    return this.#byKey.values();
  }
}

/** The RFC 5103 reverse element of an IANA element: PEN 29305, same id and type, name "reverse" + Name. */
export function reverseOf(ie: InformationElement): InformationElement {
  if (ie.pen !== 0 || NOT_REVERSIBLE.has(ie.id)) {
    throw new CtflowError(
      'IPFIX_TEMPLATE',
      `Information Element ${ie.name} has no RFC 5103 reverse element`,
      {
        details: { element: ie.name, expected: 'a reversible IANA element' },
      },
    );
  }
  return {
    id: ie.id,
    pen: REVERSE_PEN,
    name: `reverse${capitalize(ie.name)}`,
    type: ie.type,
    semantics: ie.semantics,
  };
}

function fromRow(pen: number, [id, name, type, semantics]: Row): InformationElement {
  return { id, pen, name, type, semantics: semantics ?? 'default' };
}

/**
 * Builds the registry: every IANA element above, its reverse element where RFC 5103 allows one, and
 * ctflow's elements under `ctflowPen` (default 32473, the documentation PEN).
 */
export function createRegistry(ctflowPen: number = DEFAULT_CTFLOW_PEN): Registry {
  if (!Number.isInteger(ctflowPen) || ctflowPen <= 0 || ctflowPen > 0xffffffff || ctflowPen === REVERSE_PEN) {
    throw new CtflowError('CONFIG_INVALID', `enterprise PEN ${ctflowPen} is not usable`, {
      details: { field: 'enterprisePen', value: ctflowPen, expected: 'an integer 1..4294967295, not 29305' },
    });
  }
  const elements: InformationElement[] = [];
  for (const row of IANA) {
    const ie = fromRow(0, row);
    elements.push(ie);
    if (!NOT_REVERSIBLE.has(ie.id)) elements.push(reverseOf(ie));
  }
  for (const row of CTFLOW) elements.push(fromRow(ctflowPen, row));
  return new Registry(elements, ctflowPen);
}

/** The registry with ctflow's elements under the default PEN. */
export const defaultRegistry: Registry = createRegistry();
