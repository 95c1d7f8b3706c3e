import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { controlledAssigner, type MemberControl } from '../../../src/kafka/join-barrier.js';

const require = createRequire(import.meta.url);
const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as {
  prototype: { joinAndSync(): Promise<void>; heartbeat(args: unknown): Promise<void> };
};

/** A ConsumerGroup-shaped object with the controlled assigner (kafkajs' own methods, patched). */
function group(control: MemberControl, events: string[]) {
  const assigner = controlledAssigner(control)({ cluster: {}, groupId: 'g', logger: {} });
  const g = Object.create(ConsumerGroup.prototype) as {
    assigners: unknown[];
    leave(): Promise<void>;
    joinAndSync(): Promise<void>;
    heartbeat(args: unknown): Promise<void>;
  };
  g.assigners = [assigner];
  g.leave = async () => {
    events.push('leave');
  };
  return g;
}

describe('controlledAssigner', () => {
  it('is kafkajs round robin (same protocol name, so members without it agree)', () => {
    const a = controlledAssigner({ disposed: false })({ cluster: {}, groupId: 'g', logger: {} }) as {
      name: string;
    };
    expect(a.name).toBe('RoundRobinAssigner');
  });

  it('awaits the barrier before kafkajs joins', async () => {
    const events: string[] = [];
    const control: MemberControl = {
      disposed: false,
      beforeJoin: async () => {
        events.push('barrier start');
        await new Promise((r) => setTimeout(r, 20));
        events.push('barrier end');
      },
    };
    // The fake group has no coordinator: kafkajs' own join fails after the barrier.
    await expect(group(control, events).joinAndSync()).rejects.toBeDefined();
    expect(events).toEqual(['barrier start', 'barrier end']);
  });

  it('a disposed member refuses to join, and leaves at its next heartbeat', async () => {
    const events: string[] = [];
    const control: MemberControl = {
      disposed: true,
      beforeJoin: async () => {
        events.push('barrier');
      },
    };
    const g = group(control, events);
    await expect(g.joinAndSync()).rejects.toMatchObject({
      name: 'CtflowConsumerDisposed',
      retriable: false,
    });
    await expect(g.heartbeat({ interval: 1 })).rejects.toMatchObject({ name: 'CtflowConsumerDisposed' });
    expect(events).toEqual(['leave']);
  });
});
