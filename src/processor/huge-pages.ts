/**
 * Whether this process's flow tables get transparent huge pages (THP). The tables are ArrayBuffers, which
 * Node allocates with glibc's malloc; on kernels whose THP mode is `madvise` (the common default), such
 * memory gets 4 KiB pages unless glibc is told to madvise(MADV_HUGEPAGE) it, with the environment variable
 * GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (glibc ≥ 2.35), read when the process starts. With 4 KiB pages a
 * restore of 100,000 flows takes ~8,500 page faults and every random row access risks a TLB miss; with huge
 * pages ~700 faults, and restores measured 5-10 % faster (bench/RESULTS.md, "Processor", session 6).
 */
import { readFileSync } from 'node:fs';

/** The tunable that makes glibc madvise its mmap'd memory for transparent huge pages. */
export const HUGE_PAGES_TUNABLE = 'glibc.malloc.hugetlb=1';

/**
 * - `always`: the kernel backs large anonymous mappings with huge pages by itself;
 * - `madvise-on`: THP only where asked for, and GLIBC_TUNABLES asks for malloc'd memory;
 * - `madvise-off`: THP only where asked for, and nothing asks (4 KiB pages: the hint applies);
 * - `never`: THP disabled on this host;
 * - `unknown`: no THP setting readable (not Linux, or /sys not mounted).
 */
export type HugePagesMode = 'always' | 'madvise-on' | 'madvise-off' | 'never' | 'unknown';

/**
 * The mode, from the text of /sys/kernel/mm/transparent_hugepage/enabled (the selected value in brackets,
 * e.g. "always [madvise] never") and the GLIBC_TUNABLES value (colon-separated name=value pairs).
 */
export function hugePagesMode(
  thpEnabled: string | undefined,
  glibcTunables: string | undefined,
): HugePagesMode {
  const selected = thpEnabled === undefined ? undefined : /\[(\w+)\]/.exec(thpEnabled)?.[1];
  if (selected === 'always') return 'always';
  if (selected === 'never') return 'never';
  if (selected !== 'madvise') return 'unknown';
  const asked = (glibcTunables ?? '').split(':').some((pair) => pair.trim() === HUGE_PAGES_TUNABLE);
  return asked ? 'madvise-on' : 'madvise-off';
}

/** This process's mode (reads /sys once per call). */
export function currentHugePagesMode(): HugePagesMode {
  let enabled: string | undefined;
  try {
    enabled = readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
  } catch {
    enabled = undefined;
  }
  return hugePagesMode(enabled, process.env.GLIBC_TUNABLES);
}
