import { describe, expect, it } from 'vitest';
import { HUGE_PAGES_TUNABLE, hugePagesMode } from '../../../src/processor/huge-pages.js';

describe('hugePagesMode', () => {
  it('reads the bracketed selection of the kernel setting', () => {
    expect(hugePagesMode('[always] madvise never\n', undefined)).toBe('always');
    expect(hugePagesMode('always madvise [never]\n', HUGE_PAGES_TUNABLE)).toBe('never');
  });

  it('in madvise mode, tells whether GLIBC_TUNABLES asks for huge pages', () => {
    const thp = 'always [madvise] never\n';
    expect(hugePagesMode(thp, undefined)).toBe('madvise-off');
    expect(hugePagesMode(thp, '')).toBe('madvise-off');
    expect(hugePagesMode(thp, 'glibc.malloc.hugetlb=0')).toBe('madvise-off');
    // hugetlb=2 means explicit hugetlbfs pages, which a pod rarely has reserved: not what the hint asks.
    expect(hugePagesMode(thp, 'glibc.malloc.hugetlb=2')).toBe('madvise-off');
    expect(hugePagesMode(thp, 'glibc.malloc.hugetlb=1')).toBe('madvise-on');
    expect(hugePagesMode(thp, 'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1')).toBe('madvise-on');
  });

  it('is unknown without a readable setting', () => {
    expect(hugePagesMode(undefined, HUGE_PAGES_TUNABLE)).toBe('unknown');
    expect(hugePagesMode('garbage', undefined)).toBe('unknown');
  });
});
