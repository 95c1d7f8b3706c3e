/**
 * A synthetic agent for processor tests: a deterministic workload of UDP flows on several nodes, written to
 * the observations topic as the real agent would (Avro single objects, keyed by flow key, absolute counters,
 * watermarks of every node to every partition), with the truth (final counters per flow) to compare with.
 */
import { AvroCodec } from '../../../src/codec/avro-codec.js';
import { flowKey } from '../../../src/flow/key.js';
import type { Counters, Observation, Watermark } from '../../../src/flow/types.js';
import type { OutgoingMessage, Producer } from '../../../src/kafka/producer.js';

const SEC = 1_000_000;

/** Shape of the workload. */
export interface WorkloadShape {
  nodes: number;
  flowsPerNode: number;
  /** Event-time steps of one second each. */
  steps: number;
  /**
   * Event time of step 0, µs (in the past, so no record is in the future). Default: two hours ago,
   * whole seconds.
   */
  startUs?: number;
}

/** One synthetic flow. */
interface SynthFlow {
  node: string;
  conntrackId: number;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  first: number;
  last: number;
  /** DESTROY after the last step (else it just goes quiet and ends by idle timeout). */
  destroyed: boolean;
  origPerStep: number;
  replyPerStep: number;
}

/** Identity of a flow as a collector sees it (see flowIdentity in collector.ts). */
export function identityOf(f: {
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  protocol: number;
}): string {
  return `${f.src}|${f.srcPort}|${f.dst}|${f.dstPort}|${f.protocol}`;
}

/** A deterministic workload and its truth. */
export class Workload {
  readonly flows: SynthFlow[] = [];
  readonly shape: Required<WorkloadShape>;
  readonly #codec = new AvroCodec();

  constructor(shape: WorkloadShape) {
    this.shape = { startUs: (Math.floor(Date.now() / 1000) - 7200) * SEC, ...shape };
    for (let n = 0; n < shape.nodes; n++) {
      for (let i = 0; i < shape.flowsPerNode; i++) {
        const first = (i * 7) % Math.max(1, Math.floor(shape.steps / 2));
        const length = 3 + ((i * 13 + n * 5) % Math.max(1, shape.steps - first - 3));
        this.flows.push({
          node: `node-${n}`,
          conntrackId: 1000 + i,
          src: `10.${n}.${Math.floor(i / 250)}.${(i % 250) + 1}`,
          srcPort: 20000 + i,
          dst: '192.0.2.10',
          dstPort: 53 + (i % 3),
          first,
          last: Math.min(shape.steps - 1, first + length),
          destroyed: i % 4 !== 0,
          origPerStep: 1 + (i % 5),
          replyPerStep: i % 3,
        });
      }
    }
  }

  /** Event time of a step, µs. */
  timeOf(step: number): number {
    return this.shape.startUs + step * SEC;
  }

  #counters(f: SynthFlow, step: number): Counters {
    const k = Math.min(step, f.last) - f.first + 1;
    return {
      origPackets: k * f.origPerStep,
      origBytes: k * f.origPerStep * 120,
      replyPackets: k * f.replyPerStep,
      replyBytes: k * f.replyPerStep * 300,
    };
  }

  #observation(f: SynthFlow, step: number, kind: Observation['kind']): Observation {
    return {
      node: f.node,
      bootId: `boot-${f.node}`,
      kind,
      timeUs: this.timeOf(step) + (kind === 'DESTROY' ? SEC / 2 : 0),
      conntrackId: f.conntrackId,
      zone: 0,
      family: 'IPV4',
      protocol: 17,
      orig: {
        src: f.src,
        dst: f.dst,
        srcPort: f.srcPort,
        dstPort: f.dstPort,
        icmpType: null,
        icmpCode: null,
        icmpId: null,
      },
      reply: {
        src: f.dst,
        dst: f.src,
        srcPort: f.dstPort,
        dstPort: f.srcPort,
        icmpType: null,
        icmpCode: null,
        icmpId: null,
      },
      tcpState: null,
      status: 0,
      mark: 0,
      counters: this.#counters(f, step),
      kernelStartUs: this.timeOf(f.first),
      kernelStopUs: null,
    };
  }

  /** Observations of one step, in time order per node. */
  observationsAt(step: number): Observation[] {
    const out: Observation[] = [];
    for (const f of this.flows) {
      if (step === f.first) out.push(this.#observation(f, step, 'NEW'));
      else if (step > f.first && step <= f.last) out.push(this.#observation(f, step, 'POLL'));
    }
    // DESTROYs are half a step later: after every poll of the step, so each node's input stays in time order.
    for (const f of this.flows)
      if (step === f.last && f.destroyed) out.push(this.#observation(f, step, 'DESTROY'));
    return out;
  }

  /** Watermarks of every node at `timeUs`. */
  watermarksAt(timeUs: number): Watermark[] {
    const out: Watermark[] = [];
    for (let n = 0; n < this.shape.nodes; n++)
      out.push({ node: `node-${n}`, bootId: `boot-node-${n}`, timeUs });
    return out;
  }

  /** Kafka messages of one step (observations keyed by flow key, watermarks to every partition). */
  messagesAt(step: number, partitions: number): OutgoingMessage[] {
    const out: OutgoingMessage[] = [];
    for (const o of this.observationsAt(step)) {
      out.push({
        key: flowKey(o),
        value: Buffer.from(this.#codec.encodeObservation(o)),
        timestampMs: Math.floor(o.timeUs / 1000),
      });
    }
    const wmTime = this.timeOf(step) + SEC - 1;
    for (const w of this.watermarksAt(wmTime)) {
      for (let p = 0; p < partitions; p++) {
        out.push({
          value: Buffer.from(this.#codec.encodeWatermark(w)),
          partition: p,
          timestampMs: Math.floor(wmTime / 1000),
        });
      }
    }
    return out;
  }

  /** Final watermarks far enough past the last step that every idle and end-of-flow record is due. */
  finalMessages(partitions: number, afterS = 120): OutgoingMessage[] {
    const t = this.timeOf(this.shape.steps) + afterS * SEC;
    const out: OutgoingMessage[] = [];
    for (const w of this.watermarksAt(t)) {
      for (let p = 0; p < partitions; p++) {
        out.push({
          value: Buffer.from(this.#codec.encodeWatermark(w)),
          partition: p,
          timestampMs: Math.floor(t / 1000),
        });
      }
    }
    return out;
  }

  /** Writes steps [from, to) to `topic`, waiting `pauseMs` between steps. */
  async write(
    producer: Producer,
    topic: string,
    partitions: number,
    from: number,
    to: number,
    pauseMs = 0,
  ): Promise<void> {
    for (let s = from; s < to; s++) {
      await producer.send(topic, this.messagesAt(s, partitions));
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  }

  /** Final counters of every flow by identity: what the collector's deltas must add up to. */
  truth(): Map<string, Counters> {
    const out = new Map<string, Counters>();
    for (const f of this.flows) out.set(identityOf({ ...f, protocol: 17 }), this.#counters(f, f.last));
    return out;
  }
}
