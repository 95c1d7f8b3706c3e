import { describe, expect, it } from 'vitest';
import { EMPTY_TABLE_WARNING, emptyTableWarning } from '../../../src/agent/untracked-hint.js';

describe('emptyTableWarning', () => {
  it('warns, naming the fix, when the first poll found no entry', () => {
    expect(emptyTableWarning(0)).toBe(EMPTY_TABLE_WARNING);
    expect(EMPTY_TABLE_WARNING).toContain('-m conntrack');
    expect(EMPTY_TABLE_WARNING).toContain('modprobe nf_conntrack');
  });

  it('stays quiet when the table has entries or the first poll failed', () => {
    expect(emptyTableWarning(3)).toBeNull();
    expect(emptyTableWarning(undefined)).toBeNull();
  });
});
