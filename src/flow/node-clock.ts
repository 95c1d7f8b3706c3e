/** A node's event-time clock and timer heap inside one engine. */
import { nodeHash } from './key-index.js';
import { TimerHeap } from './timer-heap.js';
import type { NodeState } from './types.js';

/** Per-node state of the engine (NodeState plus runtime-only parts). */
export class NodeClock {
  /** Index in the engine's node list (stored per flow in Ux.node). */
  readonly idx: number;
  readonly name: string;
  readonly domainId: number;
  /** nodeHash(name): seeds the flow hashes of this node. */
  readonly hash: number;
  /** '' until the first observation or watermark (or a restored NodeState) says. */
  bootId = '';
  eventTimeUs = 0;
  nextSeq = 0;
  gone = false;
  horizonUs = 0;
  /** Newest watermark: the timer horizon (see NodeState.watermarkUs). */
  watermarkUs = 0;
  /** Listed in the engine's dirty-node list. */
  dirty = false;
  readonly heap = new TimerHeap();

  constructor(idx: number, name: string, domainId: number) {
    this.idx = idx;
    this.name = name;
    this.domainId = domainId;
    this.hash = nodeHash(name);
  }

  /** The changelog value of this clock. */
  toState(): NodeState {
    return {
      node: this.name,
      bootId: this.bootId,
      eventTimeUs: this.eventTimeUs,
      nextSeq: this.nextSeq,
      gone: this.gone,
      horizonUs: this.horizonUs,
      watermarkUs: this.watermarkUs,
    };
  }
}
