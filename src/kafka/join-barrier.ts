/**
 * Hooks into kafkajs' group membership. A barrier before kafkajs (re)joins a consumer group: while a member reads its partitions itself (not
 * through kafkajs' fetches, see input-fetcher.ts), kafkajs still heartbeats, and when a heartbeat says a
 * rebalance started it calls ConsumerGroup.joinAndSync at once (runner.js), whatever the member is doing.
 * The member must first stop reading and finish the batch in flight (its changelog writes and export), as
 * it does when kafkajs itself hands out the batches: then no write of a partition can land after its next
 * owner took the partition over.
 *
 * kafkajs 2.2.4 has no hook there, so ConsumerGroup.prototype.joinAndSync is wrapped (once, on first use):
 * it first awaits the barrier of the member it belongs to. The member is found through its partition
 * assigner, the one object a kafkajs consumer hands to its ConsumerGroup that ctflow creates: a round-robin
 * assigner (the same protocol name, so members with and without a barrier agree) carrying the barrier.
 * Every joinAndSync goes through it: at a rebalance, after UNKNOWN_MEMBER_ID, at stale metadata, at a
 * restart after a crash. The same hook makes a disconnected member leave for good (MemberControl.disposed).
 */
import { createRequire } from 'node:module';

/** The member's control's key on the assigner object. */
const CONTROL = Symbol.for('ctflow.memberControl');

/** What ctflow tells kafkajs' ConsumerGroup of one member through its assigner. */
export interface MemberControl {
  /** Awaited before each (re)join; must not reject. */
  beforeJoin?: () => Promise<void>;
  /**
   * Set when the member was disconnected. kafkajs 2.2.4 does not stop a restart after a crash that is
   * already joining when disconnect() is called (runner.stop() returns while the runner is not marked
   * running, the join then completes and the runner fetches and heartbeats on, holding partitions for a
   * consumer nobody uses). A disposed member refuses to join, and leaves the group at its next heartbeat.
   */
  disposed: boolean;
}

interface Assigner {
  [CONTROL]?: MemberControl;
}
type AssignerFactory = (config: unknown) => unknown;
interface Group {
  assigners?: Assigner[];
  leave(): Promise<void>;
}

const require = createRequire(import.meta.url);
let installed = false;

function controlOf(group: Group): MemberControl | undefined {
  for (const a of group.assigners ?? []) {
    const c = a[CONTROL];
    if (c !== undefined) return c;
  }
  return undefined;
}

/** Not retriable: kafkajs neither retries it nor restarts the consumer after it. */
function disposedError(): Error {
  return Object.assign(new Error('consumer disconnected by ctflow'), {
    name: 'CtflowConsumerDisposed',
    retriable: false,
  });
}

/** Wraps ConsumerGroup.prototype.joinAndSync and heartbeat (kafkajs/src/consumer/consumerGroup.js) once. */
function install(): void {
  if (installed) return;
  installed = true;
  const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as {
    prototype: {
      joinAndSync: (this: Group) => Promise<void>;
      heartbeat: (this: Group, args: unknown) => Promise<void>;
    };
  };
  const join = ConsumerGroup.prototype.joinAndSync;
  ConsumerGroup.prototype.joinAndSync = async function joinAndSync(this: Group) {
    const control = controlOf(this);
    if (control?.disposed) throw disposedError();
    if (control?.beforeJoin !== undefined) await control.beforeJoin();
    if (control?.disposed) throw disposedError();
    return join.call(this);
  };
  const heartbeat = ConsumerGroup.prototype.heartbeat;
  ConsumerGroup.prototype.heartbeat = async function heartbeatOrLeave(this: Group, args: unknown) {
    if (controlOf(this)?.disposed) {
      await this.leave().catch(() => {});
      throw disposedError();
    }
    return heartbeat.call(this, args);
  };
}

/**
 * A kafkajs partition assigner factory (round robin, as kafkajs' default) that carries `control` to the
 * consumer's ConsumerGroup. Pass it as the consumer's only `partitionAssigners` entry.
 */
export function controlledAssigner(control: MemberControl): AssignerFactory {
  install();
  const { PartitionAssigners } = require('kafkajs') as {
    PartitionAssigners: { roundRobin: AssignerFactory };
  };
  return (config: unknown) => {
    const assigner = PartitionAssigners.roundRobin(config) as Assigner;
    assigner[CONTROL] = control;
    return assigner;
  };
}
