import { describe, expect, it } from 'vitest';
import { editDistance, nearest } from '../../../src/config/suggest.js';

describe('edit distance suggestions', () => {
  it('computes Levenshtein distance', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('brokers', 'brokers')).toBe(0);
  });

  it('suggests a close key, case-insensitively, and nothing for unrelated words', () => {
    expect(nearest('brokrs', ['brokers', 'clientId', 'topics'])).toBe('brokers');
    expect(nearest('clientid', ['brokers', 'clientId'])).toBe('clientId');
    expect(nearest('zzzzzz', ['brokers', 'clientId'])).toBeUndefined();
  });
});
