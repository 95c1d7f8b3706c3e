/**
 * One transport session's message assembly (no sockets, no timers, clock injected): per observation
 * domain a message being filled, its sequence number and the templates already sent; FlowRecords and
 * statistics records in, finished messages out through `emit`.
 *
 * RFC 7011 §3.1: the sequence number is the count of data records sent before this message in this
 * transport session and observation domain (mod 2^32); template-only messages carry the current count.
 * RFC 7011 §8: a template is sent before the data records that use it (earlier in the same message,
 * or an earlier message). Over UDP (§8.4) templates are re-sent every `templateRefreshMs` and,
 * optionally, every `templateRefreshMessages` messages; over TCP once per connection (see
 * `templateMessages`, which the transport sends first on every (re)connect).
 */
import { CtflowError } from '../errors.js';
import type { FlowRecord } from '../flow/types.js';
import type { FlowWriter } from './flow-codegen.js';
import { FLOW_VARIANTS, type FlowTemplates, variantOf } from './flow-templates.js';
import { HEADER_LENGTH, MessageBuilder, SET_HEADER_LENGTH, TEMPLATE_SET_ID } from './message.js';
import { type ReliabilityStats, statsValues } from './stats-template.js';
import { type Template, dataRecordLength, templateRecordLength, writeDataRecord } from './template.js';

/** A finished message and what it carries (for counters and drop accounting). */
export interface OutMessage {
  readonly buf: Buffer;
  readonly domain: number;
  readonly sequence: number;
  /** Data records (flow and options) in it. */
  readonly dataRecords: number;
  /** Flow data records in it. */
  readonly flowRecords: number;
  /** Template and options template records in it. */
  readonly templateRecords: number;
  /** Packets and octets of its flow records (both directions), for notSent* when it is lost. */
  readonly packets: number;
  readonly octets: number;
}

/** Settings of a session. */
export interface SessionOptions {
  readonly flowTemplates: FlowTemplates;
  readonly statsTemplate: Template;
  /** Largest message, octets (≤ 65535). */
  readonly maxMessageSize: number;
  /** Milliseconds since the Unix epoch: message export time, template refresh timing. */
  readonly clock: () => number;
  /** UDP: true (templates refreshed on a timer); TCP: false (templates once per connection). */
  readonly refreshTemplates: boolean;
  readonly templateRefreshMs: number;
  /** Re-send templates after this many messages of a domain; 0 = never. */
  readonly templateRefreshMessages: number;
  /** Pad data sets to 4 octets (RFC 7011 §3.3.1 allows it; off by default). */
  readonly padSets?: boolean;
  readonly emit: (msg: OutMessage) => void;
}

interface Domain {
  readonly id: number;
  readonly builder: MessageBuilder;
  /** Data records sent before the message being filled (mod 2^32). */
  seq: number;
  /** Template ids announced in this domain (and so re-sent on refresh and reconnect). */
  readonly used: Set<number>;
  /** Announced since the last refresh / connection, by slot (flow variant; statistics last). */
  readonly announced: Uint8Array;
  /** A message was finished: check whether the template refresh is due before the next record. */
  checkRefresh: boolean;
  lastTemplatesMs: number;
  messagesSinceTemplates: number;
  flowRecords: number;
  templateRecords: number;
  packets: number;
  octets: number;
}

interface Variant {
  readonly template: Template;
  readonly id: number;
  readonly length: number;
  readonly writer: FlowWriter;
}

function checkDomain(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) {
    throw new CtflowError('IPFIX_ENCODE', `observation domain id ${id} is not an unsigned32`, {
      details: { element: 'observationDomainId', value: id, expected: '0..4294967295' },
    });
  }
}

/** Message assembly for one collector. */
export class ExportSession {
  readonly #o: SessionOptions;
  readonly #domains = new Map<number, Domain>();
  readonly #ft: FlowTemplates;
  /** The domain of the previous record (records mostly come from one domain). */
  #last: Domain | undefined;
  /** Per flow variant: its template, id, record length and compiled writer (checked to fit a message). */
  readonly #variants: (Variant | undefined)[] = [];

  constructor(opts: SessionOptions) {
    this.#o = opts;
    this.#ft = opts.flowTemplates;
  }

  /** Observation domains seen so far. */
  domains(): number[] {
    return [...this.#domains.keys()];
  }

  #domain(id: number): Domain {
    let d = this.#domains.get(id);
    if (d === undefined) {
      checkDomain(id);
      d = {
        id,
        builder: new MessageBuilder(this.#o.maxMessageSize),
        seq: 0,
        used: new Set(),
        announced: new Uint8Array(FLOW_VARIANTS + 1),
        checkRefresh: false,
        lastTemplatesMs: this.#o.clock(),
        messagesSinceTemplates: 0,
        flowRecords: 0,
        templateRecords: 0,
        packets: 0,
        octets: 0,
      };
      this.#domains.set(id, d);
    }
    return d;
  }

  /** Makes sure domain `id` exists (so it gets templates and statistics from now on). */
  touch(id: number): void {
    this.#domain(id);
  }

  #finish(d: Domain): void {
    const b = d.builder;
    if (b.empty) return;
    const n = b.dataRecords;
    const exportS = Math.floor(this.#o.clock() / 1000);
    const msg: OutMessage = {
      buf: b.finish(exportS, d.seq, d.id, this.#o.padSets ?? false, this.#minRecordOfOpenSet(b)),
      domain: d.id,
      sequence: d.seq,
      dataRecords: n,
      flowRecords: d.flowRecords,
      templateRecords: d.templateRecords,
      packets: d.packets,
      octets: d.octets,
    };
    d.seq = (d.seq + n) % 4294967296;
    d.flowRecords = 0;
    d.templateRecords = 0;
    d.packets = 0;
    d.octets = 0;
    d.messagesSinceTemplates++;
    d.checkRefresh = true;
    this.#o.emit(msg);
  }

  #minRecordOfOpenSet(b: MessageBuilder): number {
    const id = b.openSetId;
    if (id < 256) return 0;
    if (id === this.#o.statsTemplate.id) return this.#o.statsTemplate.minRecordLength;
    const k = id - this.#ft.firstTemplateId;
    return k >= 0 && k < FLOW_VARIANTS ? this.#ft.recordLength(k) : 0;
  }

  #announce(d: Domain, t: Template): void {
    if (d.builder.room(TEMPLATE_SET_ID + (t.scopeCount > 0 ? 1 : 0)) < templateRecordLength(t))
      this.#finish(d);
    if (!d.builder.addTemplate(t)) {
      throw new CtflowError(
        'IPFIX_TEMPLATE',
        `template ${t.id} does not fit a ${this.#o.maxMessageSize}-octet message`,
      );
    }
    d.templateRecords++;
    d.used.add(t.id);
    d.announced[this.#slot(t.id)] = 1;
  }

  /** Index of a template in `announced`: its flow variant, or FLOW_VARIANTS for the statistics template. */
  #slot(id: number): number {
    return id === this.#o.statsTemplate.id ? FLOW_VARIANTS : id - this.#ft.firstTemplateId;
  }

  #variant(k: number): Variant {
    const template = this.#ft.template(k);
    const length = this.#ft.recordLength(k);
    this.#checkFits(template, length);
    const v: Variant = { template, id: template.id, length, writer: this.#ft.writer(k) };
    this.#variants[k] = v;
    return v;
  }

  /** A record must fit an otherwise empty message (header + set header + record). */
  #checkFits(t: Template, len: number): void {
    if (len + HEADER_LENGTH + SET_HEADER_LENGTH > this.#o.maxMessageSize) {
      throw new CtflowError(
        'IPFIX_ENCODE',
        `a record of template ${t.id} (${len} octets) does not fit a ${this.#o.maxMessageSize}-octet message`,
        { details: { templateId: t.id, value: len, expected: `≤ ${this.#o.maxMessageSize - 20} octets` } },
      );
    }
  }

  #templateById(id: number): Template {
    if (id === this.#o.statsTemplate.id) return this.#o.statsTemplate;
    return this.#ft.template(id - this.#ft.firstTemplateId);
  }

  /** UDP: when the refresh is due, every template used in the domain is sent again before more data. */
  #refreshIfDue(d: Domain): void {
    if (!this.#o.refreshTemplates) return;
    const now = this.#o.clock();
    const byTime = now - d.lastTemplatesMs >= this.#o.templateRefreshMs;
    const byCount =
      this.#o.templateRefreshMessages > 0 && d.messagesSinceTemplates >= this.#o.templateRefreshMessages;
    if (!byTime && !byCount) return;
    // Refreshed templates lead a message of their own making (collectors read them before its data).
    this.#finish(d);
    d.announced.fill(0);
    d.lastTemplatesMs = now;
    d.messagesSinceTemplates = 0;
    for (const id of [...d.used].sort((a, b) => a - b)) this.#announce(d, this.#templateById(id));
  }

  /**
   * Adds one flow record to its domain's message (sending the message first when full, the template
   * first when not yet sent). Throws IPFIX_ENCODE, adding nothing, when the record cannot be encoded.
   */
  add(r: FlowRecord): void {
    let d = this.#last;
    if (d === undefined || d.id !== r.observationDomainId) {
      d = this.#domain(r.observationDomainId);
      this.#last = d;
    }
    if (d.checkRefresh) {
      d.checkRefresh = false;
      this.#refreshIfDue(d);
    }
    const k = variantOf(r);
    const v = this.#variants[k] ?? this.#variant(k);
    const len = v.length;
    if (d.announced[k] === 0) this.#announce(d, v.template);
    let b = d.builder;
    if (b.room(v.id) < len) {
      this.#finish(d);
      b = d.builder;
    }
    const at = b.off + (b.openSetId === v.id ? 0 : 4);
    v.writer(b.buf, b.view, at, r);
    b.useSet(v.id);
    b.off += len;
    b.dataRecords++;
    d.flowRecords++;
    const c = r.delta;
    if (c !== null) {
      d.packets += c.origPackets + c.replyPackets;
      d.octets += c.origBytes + c.replyBytes;
    }
  }

  /** Adds an exporting-process reliability statistics record (RFC 7011 §4.3) to domain `domain`. */
  addStats(domain: number, s: ReliabilityStats): void {
    const d = this.#domain(domain);
    this.#refreshIfDue(d);
    const t = this.#o.statsTemplate;
    if (d.announced[FLOW_VARIANTS] === 0) this.#announce(d, t);
    const values = statsValues(s);
    const len = dataRecordLength(t, values);
    this.#checkFits(t, len);
    let b = d.builder;
    if (b.room(t.id) < len) {
      this.#finish(d);
      b = d.builder;
    }
    const at = b.off + (b.openSetId === t.id ? 0 : 4);
    writeDataRecord(b.buf, at, t, values);
    b.useSet(t.id);
    b.off += len;
    b.dataRecords++;
  }

  /** Sends the templates of every domain again if their refresh is due (UDP; call from a timer). */
  refreshDue(): void {
    for (const d of this.#domains.values()) this.#refreshIfDue(d);
  }

  /** Finishes every domain's partly filled message. */
  flush(): void {
    for (const d of this.#domains.values()) this.#finish(d);
  }

  /**
   * Messages holding every template used so far in every domain, for a new TCP connection: sent
   * before anything else. `firstQueuedSeq(domain)` is the sequence number of the first message still
   * waiting for that domain (so the collector sees the numbers in order), undefined when none waits.
   */
  templateMessages(firstQueuedSeq: (domain: number) => number | undefined): OutMessage[] {
    const out: OutMessage[] = [];
    const exportS = Math.floor(this.#o.clock() / 1000);
    for (const d of this.#domains.values()) {
      // Templates the open message announced are in `used` too; the whole set goes out first.
      this.#finish(d);
      const seq = firstQueuedSeq(d.id) ?? d.seq;
      const ids = [...d.used].sort((a, b) => a - b);
      let b = new MessageBuilder(this.#o.maxMessageSize);
      let count = 0;
      const push = (): void => {
        out.push({
          buf: b.finish(exportS, seq, d.id),
          domain: d.id,
          sequence: seq,
          dataRecords: 0,
          flowRecords: 0,
          templateRecords: count,
          packets: 0,
          octets: 0,
        });
        b = new MessageBuilder(this.#o.maxMessageSize);
        count = 0;
      };
      for (const id of ids) {
        const t = this.#templateById(id);
        if (!b.addTemplate(t)) {
          push();
          b.addTemplate(t);
        }
        count++;
      }
      if (count > 0) push();
      d.announced.fill(0);
      for (const id of ids) d.announced[this.#slot(id)] = 1;
    }
    return out;
  }
}
