/** holdAdmin on a real broker: offset look-ups of a held client share one admin; a failure or release ends it. */
import type { Admin } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { createTopics, deleteTopics, holdAdmin } from '../../../src/kafka/admin.js';
import { kafkajsOf } from '../../../src/kafka/client.js';
import { fetchCommittedOffsets, fetchEndOffsets } from '../../../src/kafka/offsets.js';
import { testKafka, uniqueName } from './helpers.js';

const topics: string[] = [];

afterEach(async () => {
  await deleteTopics(testKafka(), topics.splice(0));
});

/** A client whose kafkajs admins are counted (made and disconnected). */
function countedClient() {
  const client = testKafka();
  const kafka = kafkajsOf(client);
  const made = kafka.admin.bind(kafka);
  const counts = { made: 0, disconnected: 0 };
  kafka.admin = ((...args: Parameters<typeof made>): Admin => {
    const admin = made(...args);
    counts.made++;
    const disconnect = admin.disconnect.bind(admin);
    admin.disconnect = async () => {
      counts.disconnected++;
      await disconnect();
    };
    return admin;
  }) as typeof kafka.admin;
  return { client, counts };
}

describe('holdAdmin', () => {
  it('shares one connected admin between the calls while held, and disconnects it at the release', async () => {
    const topic = uniqueName('hold');
    topics.push(topic);
    await createTopics(testKafka(), [{ topic, numPartitions: 2 }]);
    const { client, counts } = countedClient();

    // Not held: an admin per call, disconnected after it.
    await fetchEndOffsets(client, topic);
    expect(counts).toEqual({ made: 1, disconnected: 1 });

    const release = holdAdmin(client);
    const releaseToo = holdAdmin(client);
    for (let i = 0; i < 3; i++) {
      expect(await fetchEndOffsets(client, topic)).toEqual([
        { partition: 0, low: 0, high: 0 },
        { partition: 1, low: 0, high: 0 },
      ]);
      expect(await fetchCommittedOffsets(client, uniqueName('group'), topic)).toEqual([
        { partition: 0, offset: -1 },
        { partition: 1, offset: -1 },
      ]);
    }
    expect(counts).toEqual({ made: 2, disconnected: 1 });

    // A failed call ends the held admin: the next call connects a new one.
    await expect(fetchEndOffsets(client, uniqueName('no-such-topic'))).rejects.toMatchObject({
      code: 'KAFKA',
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(counts).toEqual({ made: 2, disconnected: 2 });
    await fetchEndOffsets(client, topic);
    expect(counts.made).toBe(3);

    // Holders are counted: the admin stays until the last release (a second release call does nothing).
    await release();
    await release();
    await fetchEndOffsets(client, topic);
    expect(counts).toEqual({ made: 3, disconnected: 2 });
    await releaseToo();
    expect(counts).toEqual({ made: 3, disconnected: 3 });

    // Released: back to an admin per call.
    await fetchEndOffsets(client, topic);
    expect(counts).toEqual({ made: 4, disconnected: 4 });
  });
});
