/**
 * Cutting a consumed batch into units: each unit goes through steps 1-5 of docs/processor.md on its own,
 * and its state changes plus its "exported" marker go to the changelog in one produce request.
 *
 * Why a bound, and why on distinct keys: that request must be all or nothing (a partial write would mix
 * states of two input offsets), but kafkajs 2.2.4 groups a request's messages per partition by copying
 * the array once per message (producer/groupMessagesPerPartition.js), so its cost grows with the square of
 * the changes to one partition. A unit writes about one change per distinct flow key it touched (a flow
 * observed ten times in a unit is written once), so cutting by distinct keys, not by messages, bounds that
 * request while keeping the fewest changes and round trips when a batch polls the same flows many times.
 */
import type { ConsumedMessage } from '../kafka/message.js';

/**
 * Default bound on the distinct keys of one unit. Measured grouping cost per message of one request to
 * one partition (kafkajs 2.2.4, this machine under load): ~4 µs at 1,000, ~10 µs at 3,300, ~60 µs at 5,000;
 * fewer, larger units save a changelog write per flow seen again and two round trips per unit.
 */
export const UNIT_MAX_KEYS = 4000;

/**
 * Splits `messages` (in order) into consecutive units, each touching at most `maxKeys` distinct message
 * keys (messages without a key, e.g. watermarks, do not count).
 */
export function splitUnits(
  messages: readonly ConsumedMessage[],
  maxKeys = UNIT_MAX_KEYS,
): ConsumedMessage[][] {
  const units: ConsumedMessage[][] = [];
  let keys = new Set<string>();
  let start = 0;
  for (let i = 0; i < messages.length; i++) {
    const key = messages[i]!.key;
    if (key === null) continue;
    const k = key.toString('latin1');
    if (keys.has(k)) continue;
    if (keys.size === maxKeys) {
      units.push(messages.slice(start, i));
      start = i;
      keys = new Set<string>();
    }
    keys.add(k);
  }
  if (start < messages.length) units.push(start === 0 ? [...messages] : messages.slice(start));
  return units;
}
