/*
 * Ceiling measurement for issue #4 (bench only, not part of ctflow): the flow engine's common hot
 * path in C11, compiled natively (gcc -O2) and to WebAssembly (clang --target=wasm32) from this one
 * file. It does, per message, the work FlowEngine.observeEncodedBatch() (src/flow/engine.ts) does
 * for an update of a tracked IPv4 flow, in the same four passes per chunk of 256 messages:
 *
 *   1. read and validate the observation.v1 Avro body exactly as ObservationV1Reader does
 *      (src/codec/observation-v1-decoder.ts: zig-zag varints with the same range checks, string
 *      lengths, unions, enums, node and boot id compared with the previous message, no trailing
 *      bytes), the original tuple's address texts parsed into the five key words
 *      (src/flow/tuple-key.ts parseIPv4Bytes/encodeKeyFields) and hashed (keyWordsHash);
 *   2. touch the home index buckets of the chunk; 3. touch the candidate rows;
 *   4. apply each message in order: #admit (node clock), lookup in an open-addressing index of
 *      Uint32 entries (tag = top 8 hash bits | slot + 1, linear probing: src/flow/key-index.ts),
 *      then #apply's path for a tracked flow with #cutInterval, #emit (a fixed-size record
 *      written to a ring instead of a FlowRecord object), dirty mark and #schedule (timer heap
 *      push when the deadline moves earlier), over rows of the 168-byte layout of
 *      src/flow/flow-table.ts.
 *
 * Also #create (to build the 1 M flows), watermark() with #fire/#expire's active and idle cases
 * (so that the C state keeps matching the engine's, and the timer pushes can be compared), and a
 * drain that clears the dirty marks. Anything outside the workload's paths (DESTROY remnants, a
 * new connection on a key, counter resets, reboots, NAT replies, IPv6, forgetting flows) is
 * counted in `unsupported` and skipped: the driver requires that count to be 0.
 *
 * Semantics follow the TypeScript engine line by line where it matters for the result; times and
 * counters stay doubles in the rows as they are Float64 fields there.
 */
#ifndef __wasm__
#define _DEFAULT_SOURCE /* posix_memalign, madvise */
#endif
#include <stddef.h>
#include <stdint.h>

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(#name)))
extern unsigned char __heap_base;
static uintptr_t bump = 0;
/* Bump allocator over linear memory (nothing is freed in a bench run). */
static void *ce_raw_alloc(size_t n) {
  if (bump == 0) bump = (uintptr_t)&__heap_base;
  bump = (bump + 63) & ~(uintptr_t)63;
  uintptr_t p = bump;
  bump += n;
  size_t have = __builtin_wasm_memory_size(0) * 65536u;
  if (bump > have) {
    size_t pages = (bump - have + 65535u) / 65536u;
    if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return 0;
  }
  return (void *)p; /* grown memory is zeroed; memory is never reused */
}
void *memset(void *d, int c, size_t n) {
  unsigned char *p = d;
  while (n--) *p++ = (unsigned char)c;
  return d;
}
void *memcpy(void *d, const void *s, size_t n) {
  unsigned char *p = d;
  const unsigned char *q = s;
  while (n--) *p++ = *q++;
  return d;
}
/* wasm has no prefetch instruction: touch the line with a load, as the TypeScript engine does. */
static uint32_t touch_sink;
#define PREFETCH(p) (touch_sink ^= *(const volatile uint32_t *)(p))
#else
#include <stdlib.h>
#ifdef HUGE_PAGES
#include <sys/mman.h>
#endif
#define EXPORT(name)
static void *ce_raw_alloc(size_t n) {
  void *p = NULL;
#ifdef HUGE_PAGES
  /* Large tables on transparent huge pages (this VM's THP mode is madvise): fewer TLB misses
     on random row and bucket accesses. */
  if (n >= (2u << 20)) {
    if (posix_memalign(&p, 2u << 20, n) != 0) return 0;
    madvise(p, n, MADV_HUGEPAGE);
  } else
#endif
    if (posix_memalign(&p, 64, n) != 0) return 0;
  for (size_t i = 0; i < n; i++) ((unsigned char *)p)[i] = 0;
  return p;
}
#ifdef TOUCH_PREFETCH
static uint32_t touch_sink;
#define PREFETCH(p) (touch_sink ^= *(const volatile uint32_t *)(p))
#else
#define PREFETCH(p) __builtin_prefetch((const void *)(p))
#endif
#endif

#define MAX_SAFE 9007199254740991LL
#define MIN_PLAUSIBLE_US 946684800000000.0
#define CHUNK 256
#define KEY_WORDS 5
#define MAX_NODES 4096

/* Flag bits (flow-table.ts Flag). */
enum {
  F_LIVE = 1,
  F_HAS_COUNTERS = 2,
  F_MID_LIFE = 4,
  F_NEED_FIRST = 8,
  F_FIRST_SERIES = 16,
  F_QUIET = 32,
  F_CLOSED = 64,
  F_END_REPORTED = 128,
  F_DESTROYED = 256,
  F_HAS_KERNEL_START = 512,
  F_NAT = 1024,
};
#define DIRTY (1u << 20)
#define TCP_NULL 15
#define TIME_WAIT 7
#define CLOSE 8
#define TCP 6
#define KIND_NEW 0
#define KIND_DESTROY 2
#define KIND_POLL 3
#define NEXT_ACTIVE_WIDE 0xffffffffu
#define TYPE_NULL (1u << 24)
#define CODE_NULL (2u << 24)
#define ID_NULL (4u << 24)
/* FlowEndReason (types.ts). */
#define R_IDLE 1
#define R_ACTIVE 2
#define R_END 3

static const int TCP_RANK[16] = {0, 1, 3, 4, 5, 6, 7, 8, 9, 2, 0, 0, 0, 0, 0, -1};

/* One flow: the 168-byte row of flow-table.ts (15 Float64 fields, then 12 Uint32 fields). */
typedef struct {
  double connStart, origin, intervalStart, lastChange, lastSeen, endMark, heapDeadline;
  double cur[4];
  double exp[4];
  uint32_t conntrackId, mark, recordIndex, flags, seq, nextActive, node;
  uint32_t key[KEY_WORDS];
} Row;
_Static_assert(sizeof(Row) == 168, "row layout of flow-table.ts");

/* Timer heap of a node (timer-heap.ts): (deadline, seq) order, lazy deletion. */
typedef struct {
  double *deadline;
  uint32_t *seq, *slot;
  uint32_t n, cap;
} Heap;

typedef struct {
  uint32_t idx, hash, nameLen, bootLen;
  uint8_t name[256];
  uint8_t boot[256];
  double eventTimeUs, horizonUs, watermarkUs;
  uint32_t nextSeq;
  int gone, dirty;
  Heap heap;
} Node;

/* What the reader keeps of one message (ObservationV1Reader.obs plus byte ranges). */
typedef struct {
  const uint8_t *nodeP, *bootP;
  uint32_t nodeLen, bootLen;
  int kind, family, tcpState; /* tcpState: TCP code, TCP_NULL when null */
  double timeUs, conntrackId, status, mark, kernelStartUs; /* kernelStartUs < 0: null */
  int32_t zone, protocol, srcPort, dstPort;
  int64_t icmpType, icmpCode, icmpId; /* -1: null */
  const uint8_t *src, *dst, *rsrc, *rdst;
  uint32_t srcLen, dstLen, rsrcLen, rdstLen;
  int32_t rsrcPort, rdstPort;
  int64_t ricmpType, ricmpCode, ricmpId;
  int hasCounters;
  double c[4];
} Obs;

/* A record as #emit builds it (FlowRecord's numbers; the key stays in the row). */
typedef struct {
  uint32_t slot, reason, midLife, recordIndex;
  double start, end;
  double delta[4], total[4];
} Rec;
#define REC_RING 65536

typedef struct {
  double activeUs, idleUs, maxLifeUs, nodeTimeoutUs, endGraceUs, forgetAfterUs;
  int suppressZeroDeltaActive;
} Options;

static Options O = {60e6, 15e6, 7 * 86400e6, 300e6, 5e6, 600e6, 1};
static Row *rows;
static uint32_t rowCap, rowNext;
static uint32_t *table;
static uint32_t mask, indexSize;
static Node *nodes[MAX_NODES];
static uint32_t nodeCount;
static uint32_t *dirtySlots;
static uint32_t dirtyCount;
static Node *dirtyNodes[MAX_NODES];
static uint32_t dirtyNodeCount;
static Rec *recs;
static double globalMaxUs, nextNodeCheckUs = __builtin_inf();
/* Per chunk scratch (#batchWords, #batchHashes) and what pass 1 read. */
static Obs chunkObs[CHUNK];
static Node *chunkNode[CHUNK];
static uint32_t chunkWords[CHUNK * KEY_WORDS];
static int64_t chunkHash[CHUNK];
static uint32_t kw[KEY_WORDS];

/* Statistics (read by the driver). */
static double st[16];
enum {
  S_RECORDS,
  S_PUSHES,
  S_UNSUPPORTED,
  S_LATE,
  S_CONFLICTS,
  S_CREATED,
  S_APPLIED,
  S_INVALID,
  S_DIRTY_FLOWS,
  S_DIRTY_NODES,
  S_SINK,
  S_NOT_FOUND,
};

EXPORT(ce_stat) double ce_stat(int i) { return i >= 0 && i < 16 ? st[i] : -1; }

EXPORT(ce_alloc) void *ce_alloc(uint32_t n) { return ce_raw_alloc(n); }

/* ---- hashing (tuple-key.ts keyWordsHash, key-index.ts nodeHash) ---- */

static inline uint32_t mix(uint32_t h, uint32_t n) {
  h = (h ^ (n & 0xffff)) * 0x01000193u;
  return (h ^ (n >> 16)) * 0x01000193u;
}

static inline uint32_t fmix(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

static inline uint32_t key_hash(uint32_t nodeH, const uint32_t *w) {
  uint32_t h = mix(nodeH, w[0]);
  h = mix(h, w[1]);
  h = mix(h, w[2]);
  h = mix(h, w[3]);
  h = mix(h, w[4]);
  return fmix(h);
}

/* nodeHash(): FNV-1a over the name's UTF-16 code units; equal to its bytes for ASCII names. */
static uint32_t node_hash(const uint8_t *p, uint32_t n) {
  uint32_t h = 0x811c9dc5u;
  for (uint32_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x01000193u;
  return (h ^ 124u) * 0x01000193u;
}

/* ---- the Avro reader (ObservationV1Reader) ---- */

typedef struct {
  const uint8_t *p, *e;
  int bad;
} Rd;

/* Avro long as ObservationV1Reader.readLong(): at most 8 bytes, |v| <= 2^53 - 1. */
static inline int64_t rd_long(Rd *r) {
  const uint8_t *p = r->p, *e = r->e;
  if (p >= e) goto bad;
  uint32_t b = *p++;
  if (b < 0x80) {
    r->p = p;
    return (int64_t)(b >> 1) ^ -(int64_t)(b & 1);
  }
  uint32_t lo = b & 0x7f;
  int shift = 7;
  do {
    if (p >= e) goto bad;
    b = *p++;
    lo |= (b & 0x7f) << shift;
    shift += 7;
  } while (b >= 0x80 && shift < 28);
  uint64_t hi = 0;
  if (b >= 0x80) {
    int hs = 0;
    do {
      if (p >= e) goto bad;
      b = *p++;
      hi |= (uint64_t)(b & 0x7f) << hs;
      hs += 7;
    } while (b >= 0x80 && hs < 28);
    if (b >= 0x80 || hi >= (1u << 26)) goto bad;
  }
  {
    uint64_t raw = (hi << 28) | lo;
    int64_t v = (int64_t)(raw >> 1) ^ -(int64_t)(raw & 1);
    if (v > MAX_SAFE || v < -MAX_SAFE) goto bad;
    r->p = p;
    return v;
  }
bad:
  r->bad = 1;
  r->p = e;
  return 0;
}

static inline int32_t rd_int(Rd *r) {
  int64_t v = rd_long(r);
  if (v < -2147483648LL || v > 2147483647LL) {
    r->bad = 1;
    return 0;
  }
  return (int32_t)v;
}

static inline int rd_union(Rd *r) {
  int64_t v = rd_long(r);
  if (v != 0 && v != 1) {
    r->bad = 1;
    return 0;
  }
  return (int)v;
}

static inline int rd_enum(Rd *r, int n) {
  int32_t v = rd_int(r);
  if (v < 0 || v >= n) {
    r->bad = 1;
    return 0;
  }
  return v;
}

/* A string or bytes value: its start, its length in *len; r->p moves past it. */
static inline const uint8_t *rd_bytes(Rd *r, uint32_t *len) {
  int64_t n = rd_long(r);
  if (n < 0 || n > r->e - r->p) {
    r->bad = 1;
    *len = 0;
    return r->p;
  }
  const uint8_t *s = r->p;
  r->p += n;
  *len = (uint32_t)n;
  return s;
}

/* A ["null","int"] union: -1 for null. */
static inline int64_t rd_opt_int(Rd *r) { return rd_union(r) == 0 ? -1 : (int64_t)rd_int(r); }

static inline int same_bytes(const uint8_t *a, uint32_t an, const uint8_t *b, uint32_t bn) {
  if (an != bn) return 0;
  for (uint32_t i = 0; i < an; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}

/* The previous message's node and boot id (RepeatedString: compared byte by byte). */
static const uint8_t *lastNodeP, *lastBootP;
static uint32_t lastNodeLen, lastBootLen;
static Node *lastNodeSeen;

/* Reads one body [p, e) into o; 0 when ObservationV1Reader.read() would return false. */
static int read_obs(const uint8_t *p, const uint8_t *e, Obs *o) {
  Rd r = {p, e, 0};
  uint32_t n;
  const uint8_t *s = rd_bytes(&r, &n);
  /* RepeatedString.read(): the bytes compared with the previous message's */
  if (!same_bytes(s, n, lastNodeP, lastNodeLen)) {
    lastNodeP = s;
    lastNodeLen = n;
    lastNodeSeen = 0;
  }
  o->nodeP = s;
  o->nodeLen = n;
  s = rd_bytes(&r, &n);
  if (!same_bytes(s, n, lastBootP, lastBootLen)) {
    lastBootP = s;
    lastBootLen = n;
  }
  o->bootP = s;
  o->bootLen = n;
  o->kind = rd_enum(&r, 4);
  o->timeUs = (double)rd_long(&r);
  o->conntrackId = (double)rd_long(&r);
  o->zone = rd_int(&r);
  o->family = rd_enum(&r, 2);
  o->protocol = rd_int(&r);
  o->src = rd_bytes(&r, &o->srcLen);
  o->dst = rd_bytes(&r, &o->dstLen);
  o->srcPort = rd_int(&r);
  o->dstPort = rd_int(&r);
  o->icmpType = rd_opt_int(&r);
  o->icmpCode = rd_opt_int(&r);
  o->icmpId = rd_opt_int(&r);
  /* reply tuple: checked; its ranges kept for #create's plain-inversion test */
  o->rsrc = rd_bytes(&r, &o->rsrcLen);
  o->rdst = rd_bytes(&r, &o->rdstLen);
  o->rsrcPort = rd_int(&r);
  o->rdstPort = rd_int(&r);
  o->ricmpType = rd_opt_int(&r);
  o->ricmpCode = rd_opt_int(&r);
  o->ricmpId = rd_opt_int(&r);
  o->tcpState = rd_union(&r) == 0 ? TCP_NULL : rd_enum(&r, 10);
  o->status = (double)rd_long(&r);
  o->mark = (double)rd_long(&r);
  o->hasCounters = rd_union(&r);
  if (o->hasCounters) {
    o->c[0] = (double)rd_long(&r);
    o->c[1] = (double)rd_long(&r);
    o->c[2] = (double)rd_long(&r);
    o->c[3] = (double)rd_long(&r);
  }
  o->kernelStartUs = rd_union(&r) == 0 ? -1.0 : (double)rd_long(&r);
  if (rd_union(&r)) (void)rd_long(&r); /* kernelStopUs: informational */
  return !r.bad && r.p == e;
}

/* ---- key words (tuple-key.ts) ---- */

static inline int64_t parse_ipv4(const uint8_t *s, uint32_t n) {
  if (n < 7 || n > 15) return -1;
  uint32_t v = 0, part = 0, digits = 0, dots = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t c = s[i];
    if (c == 46) {
      if (digits == 0 || dots == 3) return -1;
      v = v * 256 + part;
      part = 0;
      digits = 0;
      dots++;
      continue;
    }
    uint32_t d = c - 48;
    if (d > 9 || (digits > 0 && part == 0)) return -1;
    part = part * 10 + d;
    if (part > 255) return -1;
    digits++;
  }
  if (dots != 3 || digits == 0) return -1;
  return (int64_t)v * 256 + part;
}

static inline int fits(int64_t n, int64_t max) { return n >= 0 && n <= max; }

/* #encodedWords(): the narrow key words of o into w; 0 for a wide flow. */
static inline int encoded_words(const Obs *o, uint32_t *w) {
  int64_t src = parse_ipv4(o->src, o->srcLen);
  int64_t dst = src < 0 ? -1 : parse_ipv4(o->dst, o->dstLen);
  if (dst < 0) return 0;
  if (!fits(o->srcPort, 0xffff) || !fits(o->dstPort, 0xffff) || !fits(o->zone, 0xffff) ||
      !fits(o->protocol, 0xff))
    return 0;
  uint32_t pin = (uint32_t)o->protocol << 16;
  uint32_t zti = (uint32_t)o->zone << 16;
  if (o->icmpType < 0) pin |= TYPE_NULL;
  else if (fits(o->icmpType, 0xff)) zti |= (uint32_t)o->icmpType << 8;
  else return 0;
  if (o->icmpCode < 0) pin |= CODE_NULL;
  else if (fits(o->icmpCode, 0xff)) zti |= (uint32_t)o->icmpCode;
  else return 0;
  if (o->icmpId < 0) pin |= ID_NULL;
  else if (fits(o->icmpId, 0xffff)) pin |= (uint32_t)o->icmpId;
  else return 0;
  w[0] = (uint32_t)src;
  w[1] = (uint32_t)dst;
  w[2] = ((uint32_t)o->srcPort << 16) | (uint32_t)o->dstPort;
  w[3] = zti;
  w[4] = pin;
  return 1;
}

/* ---- nodes ---- */

static Node *node_find(const uint8_t *p, uint32_t n) {
  for (uint32_t i = 0; i < nodeCount; i++)
    if (same_bytes(nodes[i]->name, nodes[i]->nameLen, p, n)) return nodes[i];
  return 0;
}

static Node *node_of(const uint8_t *p, uint32_t n) {
  Node *x = node_find(p, n);
  if (x != 0 || nodeCount == MAX_NODES || n > sizeof x->name) return x;
  x = ce_raw_alloc(sizeof(Node));
  x->idx = nodeCount;
  x->nameLen = n;
  for (uint32_t i = 0; i < n; i++) x->name[i] = p[i];
  x->hash = node_hash(p, n);
  x->heap.cap = 16;
  x->heap.deadline = ce_raw_alloc(16 * sizeof(double));
  x->heap.seq = ce_raw_alloc(16 * sizeof(uint32_t));
  x->heap.slot = ce_raw_alloc(16 * sizeof(uint32_t));
  nodes[nodeCount++] = x;
  return x;
}

static void mark_node(Node *x) {
  if (!x->dirty) {
    x->dirty = 1;
    dirtyNodes[dirtyNodeCount++] = x;
  }
}

/* ---- timer heap (timer-heap.ts) ---- */

static inline int h_less(Heap *h, uint32_t i, uint32_t j) {
  double a = h->deadline[i], b = h->deadline[j];
  return a < b || (a == b && h->seq[i] < h->seq[j]);
}

static inline void h_swap(Heap *h, uint32_t i, uint32_t j) {
  double d = h->deadline[i];
  uint32_t s = h->seq[i], l = h->slot[i];
  h->deadline[i] = h->deadline[j];
  h->seq[i] = h->seq[j];
  h->slot[i] = h->slot[j];
  h->deadline[j] = d;
  h->seq[j] = s;
  h->slot[j] = l;
}

static void h_grow(Heap *h) {
  uint32_t cap = h->cap + (h->cap + 1) / 2; /* ceil(cap * 1.5) */
  double *d = ce_raw_alloc(cap * sizeof(double));
  uint32_t *s = ce_raw_alloc(cap * sizeof(uint32_t));
  uint32_t *l = ce_raw_alloc(cap * sizeof(uint32_t));
  for (uint32_t i = 0; i < h->n; i++) {
    d[i] = h->deadline[i];
    s[i] = h->seq[i];
    l[i] = h->slot[i];
  }
#ifndef __wasm__
  free(h->deadline);
  free(h->seq);
  free(h->slot);
#endif
  h->deadline = d;
  h->seq = s;
  h->slot = l;
  h->cap = cap;
}

static void h_push(Heap *h, double deadline, uint32_t seq, uint32_t slot) {
  if (h->n == h->cap) h_grow(h);
  uint32_t i = h->n++;
  h->deadline[i] = deadline;
  h->seq[i] = seq;
  h->slot[i] = slot;
  while (i > 0) {
    uint32_t p = (i - 1) >> 1;
    if (!h_less(h, i, p)) return;
    h_swap(h, i, p);
    i = p;
  }
}

static void h_pop(Heap *h) {
  uint32_t last = --h->n;
  if (last == 0) return;
  h->deadline[0] = h->deadline[last];
  h->seq[0] = h->seq[last];
  h->slot[0] = h->slot[last];
  uint32_t i = 0, n = h->n;
  for (;;) {
    uint32_t l = 2 * i + 1;
    if (l >= n) return;
    uint32_t r = l + 1;
    uint32_t c = r < n && h_less(h, r, l) ? r : l;
    if (!h_less(h, c, i)) return;
    h_swap(h, i, c);
    i = c;
  }
}

/* ---- the index (key-index.ts) ---- */

static void index_rehash(uint32_t cap) {
  uint32_t *old = table;
  uint32_t oldLen = mask + 1;
  uint32_t *t = ce_raw_alloc(cap * sizeof(uint32_t));
  uint32_t m = cap - 1;
  for (uint32_t k = 0; k < oldLen; k++) {
    uint32_t v = old[k];
    if (v == 0) continue;
    Row *rw = &rows[(v & 0xffffff) - 1];
    uint32_t i = key_hash(nodes[rw->node]->hash, rw->key) & m;
    while (t[i] != 0) i = (i + 1) & m;
    t[i] = v;
  }
#ifndef __wasm__
  free(old);
#endif
  table = t;
  mask = m;
}

static void index_insert(uint32_t h, uint32_t slot) {
  if ((uint64_t)(indexSize + 1) * 2 > (uint64_t)mask + 1) index_rehash((mask + 1) * 2);
  uint32_t i = h & mask;
  while (table[i] != 0) i = (i + 1) & mask;
  table[i] = (h & 0xff000000u) | (slot + 1);
  indexSize++;
}

static inline int64_t find_words(const uint32_t *w, uint32_t nodeIdx, uint32_t h) {
  uint32_t tag = h & 0xff000000u;
  for (uint32_t i = h & mask;; i = (i + 1) & mask) {
    uint32_t v = table[i];
    if (v == 0) return -1;
    if ((v & 0xff000000u) != tag) continue;
    const Row *rw = &rows[(v & 0xffffff) - 1];
    if (rw->key[0] == w[0] && rw->key[1] == w[1] && rw->key[2] == w[2] && rw->key[3] == w[3] &&
        rw->key[4] == w[4] && rw->node == nodeIdx)
      return (int64_t)(v & 0xffffff) - 1;
  }
}

/* ---- engine (engine.ts) ---- */

EXPORT(ce_init) int ce_init(uint32_t capacity) {
  rowCap = capacity;
  rows = ce_raw_alloc((size_t)capacity * sizeof(Row));
  dirtySlots = ce_raw_alloc((size_t)capacity * sizeof(uint32_t));
  recs = ce_raw_alloc(REC_RING * sizeof(Rec));
  table = ce_raw_alloc(2048 * sizeof(uint32_t));
  mask = 2047;
  return rows != 0 && dirtySlots != 0 && recs != 0 && table != 0;
}

static inline double phase(double origin, double t) {
  double a = O.activeUs;
  return origin + a * (__builtin_floor((t - origin) / a) + 1);
}

static inline double next_active(const Row *rw) {
  if (rw->nextActive == NEXT_ACTIVE_WIDE) {
    st[S_UNSUPPORTED]++;
    return __builtin_inf();
  }
  return rw->origin + (double)rw->nextActive * O.activeUs;
}

static inline void set_next_active(Row *rw, double v) {
  double k = (v - rw->origin) / O.activeUs;
  if (k == __builtin_floor(k) && k >= 0 && k < 4294967295.0) rw->nextActive = (uint32_t)k;
  else {
    rw->nextActive = NEXT_ACTIVE_WIDE; /* the engine keeps v in a side map: not needed here */
    st[S_UNSUPPORTED]++;
  }
}

static inline int pending(const Row *rw) { return (rw->flags & F_NEED_FIRST) != 0 || rw->intervalStart > 0; }

static inline int reportable(const Row *rw) {
  return pending(rw) || (rw->flags & (F_CLOSED | F_END_REPORTED)) == F_CLOSED;
}

static inline void mark_slot(uint32_t slot) {
  Row *rw = &rows[slot];
  if ((rw->flags & DIRTY) == 0) {
    rw->flags |= DIRTY;
    dirtySlots[dirtyCount++] = slot;
  }
}

static inline double min2(double a, double b) { return a < b ? a : b; }

static double deadline_of(const Row *rw) {
  uint32_t flags = rw->flags;
  if (flags & F_DESTROYED) return rw->endMark + 1;
  if (flags & F_CLOSED) return flags & F_END_REPORTED ? rw->lastSeen + O.forgetAfterUs : rw->endMark + O.endGraceUs;
  if (flags & F_QUIET) return rw->lastSeen + O.forgetAfterUs;
  double d = rw->lastChange + O.idleUs;
  if (!O.suppressZeroDeltaActive || pending(rw)) d = min2(d, next_active(rw));
  if (O.maxLifeUs > 0) d = min2(d, rw->origin + O.maxLifeUs);
  return d;
}

static inline void push(Node *x, uint32_t slot, double d) {
  rows[slot].heapDeadline = d;
  h_push(&x->heap, d, rows[slot].seq, slot);
  st[S_PUSHES]++;
}

static inline void schedule(uint32_t slot, Node *x) {
  double d = deadline_of(&rows[slot]);
  double cur = rows[slot].heapDeadline;
  if (cur == 0 || d < cur) push(x, slot, d);
}

/* #emit with buildRecord's counter part: deltas, delta base moved up. */
static void emit(uint32_t slot, int reason) {
  Row *rw = &rows[slot];
  uint32_t flags = rw->flags;
  int first = (flags & (F_NEED_FIRST | F_FIRST_SERIES)) == (F_NEED_FIRST | F_FIRST_SERIES);
  int closed = (flags & F_CLOSED) != 0;
  double start, end;
  if (first) start = rw->connStart;
  else if (rw->intervalStart > 0) start = rw->intervalStart;
  else start = closed ? rw->endMark : rw->lastChange;
  end = closed ? rw->endMark : rw->lastChange;
  if (end < start) end = start;
  Rec *r = &recs[(uint32_t)st[S_RECORDS] & (REC_RING - 1)];
  r->slot = slot;
  r->reason = (uint32_t)reason;
  r->midLife = first && (flags & F_MID_LIFE) != 0;
  r->recordIndex = rw->recordIndex;
  r->start = start;
  r->end = end;
  if (flags & F_HAS_COUNTERS) {
    for (int i = 0; i < 4; i++) {
      r->total[i] = rw->cur[i];
      r->delta[i] = rw->cur[i] - rw->exp[i];
      rw->exp[i] = rw->cur[i];
    }
  }
  st[S_RECORDS]++;
  rw->recordIndex++;
  rw->flags = flags & ~(uint32_t)(F_NEED_FIRST | F_MID_LIFE);
  rw->intervalStart = 0;
  mark_slot(slot);
}

static void cut_interval(uint32_t slot, double time) {
  Row *rw = &rows[slot];
  int pend = pending(rw);
  double activeDue = pend || !O.suppressZeroDeltaActive ? next_active(rw) : __builtin_inf();
  double origin = rw->origin;
  double maxDue = O.maxLifeUs > 0 ? origin + O.maxLifeUs : __builtin_inf();
  if (activeDue > time && maxDue > time) return;
  if (activeDue <= maxDue) {
    emit(slot, R_ACTIVE);
    set_next_active(rw, phase(origin, time));
  } else {
    if (pend) emit(slot, R_ACTIVE);
    rw->origin = 0;
    rw->flags = (rw->flags | F_QUIET) & ~(uint32_t)(F_NEED_FIRST | F_FIRST_SERIES);
  }
}

static inline double kernel_start(const Obs *o) {
  double k = o->kernelStartUs;
  return k >= 0 && k >= MIN_PLAUSIBLE_US && k <= o->timeUs ? k : 0;
}

static inline int counters_ok(const Obs *o) {
  return !o->hasCounters || (o->c[0] >= 0 && o->c[1] >= 0 && o->c[2] >= 0 && o->c[3] >= 0);
}

static int plain_inversion(const Obs *o) {
  return same_bytes(o->rsrc, o->rsrcLen, o->dst, o->dstLen) &&
         same_bytes(o->rdst, o->rdstLen, o->src, o->srcLen) && o->rsrcPort == o->dstPort &&
         o->rdstPort == o->srcPort && o->ricmpType == o->icmpType && o->ricmpCode == o->icmpCode &&
         o->ricmpId == o->icmpId;
}

static void create(const Obs *o, uint32_t h, Node *x, const uint32_t *w) {
  if (!counters_ok(o)) {
    st[S_INVALID]++;
    return;
  }
  if (!plain_inversion(o) || o->kind == KIND_DESTROY || rowNext == rowCap) {
    st[S_UNSUPPORTED]++; /* NAT reply map, a flow born at its DESTROY, table growth */
    return;
  }
  uint32_t slot = rowNext++;
  Row *rw = &rows[slot];
  rw->node = x->idx;
  for (int i = 0; i < KEY_WORDS; i++) rw->key[i] = w[i];
  rw->flags = (rw->flags & DIRTY) | F_LIVE;
  index_insert(h, slot);
  double time = o->timeUs;
  double ks = kernel_start(o);
  if (ks > 0 && ks <= x->horizonUs) ks = 0;
  double connStart = ks > 0 ? ks : time;
  uint32_t state = (uint32_t)o->tcpState;
  uint32_t flags = F_LIVE | F_NEED_FIRST | F_FIRST_SERIES;
  if (o->hasCounters) flags |= F_HAS_COUNTERS;
  if (ks > 0) flags |= F_HAS_KERNEL_START;
  else if (o->kind != KIND_NEW) flags |= F_MID_LIFE;
  if (o->protocol == TCP && (state == TIME_WAIT || state == CLOSE)) {
    flags |= F_CLOSED;
    rw->endMark = time;
  }
  rw->conntrackId = (uint32_t)(uint64_t)(int64_t)o->conntrackId;
  rw->mark = (uint32_t)(uint64_t)(int64_t)o->mark;
  rw->recordIndex = 0;
  rw->flags = (rw->flags & DIRTY) | flags | (state << 16);
  rw->connStart = connStart;
  rw->origin = connStart;
  rw->intervalStart = time;
  rw->lastChange = time;
  rw->lastSeen = time;
  set_next_active(rw, phase(connStart, time));
  rw->heapDeadline = 0;
  rw->seq = x->nextSeq;
  x->nextSeq++;
  if (o->hasCounters)
    for (int i = 0; i < 4; i++) rw->cur[i] = o->c[i];
  mark_node(x);
  mark_slot(slot);
  schedule(slot, x);
  st[S_CREATED]++;
}

static void apply(uint32_t slot, const Obs *o, Node *x) {
  Row *rw = &rows[slot];
  uint32_t flags = rw->flags;
  double time = o->timeUs;
  double lastSeen = rw->lastSeen;
  if (flags & F_DESTROYED) {
    if (time <= lastSeen) return;
    st[S_UNSUPPORTED]++; /* #renew */
    return;
  }
  int same = time == lastSeen;
  if (!counters_ok(o)) {
    st[S_INVALID]++;
    return;
  }
  int hasCounters = (flags & F_HAS_COUNTERS) != 0 && o->hasCounters;
  if ((uint32_t)(uint64_t)(int64_t)o->conntrackId != rw->conntrackId) {
    if (same) {
      st[S_CONFLICTS]++;
      return;
    }
    st[S_UNSUPPORTED]++; /* #replace */
    return;
  }
  if (!same) {
    double ks = kernel_start(o);
    if (ks > 0 && (flags & F_HAS_KERNEL_START) && ks != rw->connStart) {
      st[S_UNSUPPORTED]++; /* #replace */
      return;
    }
    if (ks > 0 && !(flags & F_HAS_KERNEL_START) &&
        (flags & (F_NEED_FIRST | F_FIRST_SERIES)) == (F_NEED_FIRST | F_FIRST_SERIES) &&
        !(flags & F_MID_LIFE) && ks <= rw->connStart && ks > x->horizonUs) {
      rw->connStart = ks;
      flags |= F_HAS_KERNEL_START;
    }
    if (hasCounters && (o->c[0] < rw->cur[0] || o->c[1] < rw->cur[1] || o->c[2] < rw->cur[2] ||
                        o->c[3] < rw->cur[3])) {
      st[S_UNSUPPORTED]++; /* counter reset: #replace */
      return;
    }
    if (!(flags & (F_CLOSED | F_QUIET))) {
      rw->flags = flags;
      cut_interval(slot, time);
      flags = rw->flags;
    }
  }
  int grew = 0;
  if (hasCounters) {
    for (int i = 0; i < 4; i++) {
      if (o->c[i] > rw->cur[i]) {
        rw->cur[i] = o->c[i];
        grew = 1;
      }
    }
  }
  uint32_t state = (uint32_t)o->tcpState;
  uint32_t oldState = (flags >> 16) & 15;
  int destroy = o->kind == KIND_DESTROY;
  if (!(flags & F_HAS_COUNTERS) && !same && (o->kind != KIND_POLL || state != oldState)) grew = 1;
  int closedNow = 0;
  if (o->protocol == TCP && !destroy && !(flags & F_CLOSED) && (state == TIME_WAIT || state == CLOSE)) {
    flags |= F_CLOSED;
    rw->endMark = time;
    closedNow = 1;
  }
  int changed = grew || closedNow || time > lastSeen || destroy;
  if (grew || closedNow) {
    double a = flags & F_CLOSED ? rw->endMark
               : destroy        ? (lastSeen > rw->lastChange ? lastSeen : rw->lastChange)
                                : time;
    if (flags & F_QUIET) {
      flags &= ~(uint32_t)F_QUIET;
      if (rw->origin == 0) {
        rw->origin = a;
        flags |= F_NEED_FIRST;
        rw->recordIndex = 0;
      }
      set_next_active(rw, phase(rw->origin, time));
    }
    if (rw->intervalStart == 0) rw->intervalStart = a;
    if (a > rw->lastChange) rw->lastChange = a;
  }
  if (o->tcpState != TCP_NULL && state != oldState && (!same || TCP_RANK[state] > TCP_RANK[oldState])) {
    flags = (flags & ~0xf0000u) | (state << 16);
    changed = 1;
  }
  uint32_t mark = (uint32_t)(uint64_t)(int64_t)o->mark;
  if (!same && mark != rw->mark) {
    rw->mark = mark;
    changed = 1;
  }
  rw->flags = flags;
  if (time > lastSeen) rw->lastSeen = time;
  if (destroy) {
    if (reportable(rw)) emit(slot, R_END);
    rw->flags |= F_DESTROYED;
    rw->endMark = time;
  }
  if (changed) {
    mark_slot(slot);
    schedule(slot, x);
  }
  st[S_APPLIED]++;
}

static void check_nodes(void) {
  double next = __builtin_inf();
  for (uint32_t i = 0; i < nodeCount; i++) {
    Node *n = nodes[i];
    if (!n->gone && globalMaxUs - n->eventTimeUs > O.nodeTimeoutUs) st[S_UNSUPPORTED]++; /* #endAll */
  }
  for (uint32_t i = 0; i < nodeCount; i++) {
    Node *n = nodes[i];
    if (!n->gone && n->eventTimeUs + O.nodeTimeoutUs < next) next = n->eventTimeUs + O.nodeTimeoutUs;
  }
  nextNodeCheckUs = next;
}

static void advance(Node *x, double t) {
  if (x->gone) {
    x->gone = 0;
    mark_node(x);
  }
  if (t > x->eventTimeUs) {
    x->eventTimeUs = t;
    mark_node(x);
  }
  if (O.nodeTimeoutUs > 0) {
    if (t + O.nodeTimeoutUs < nextNodeCheckUs) nextNodeCheckUs = t + O.nodeTimeoutUs;
    if (t > globalMaxUs) {
      globalMaxUs = t;
      if (t > nextNodeCheckUs) check_nodes();
    }
  } else if (t > globalMaxUs) globalMaxUs = t;
}

static int admit(Node *x, const uint8_t *boot, uint32_t bootLen, double t) {
  if (t < x->eventTimeUs || (t == x->eventTimeUs && x->gone)) return 0;
  if (!same_bytes(x->boot, x->bootLen, boot, bootLen)) {
    if (x->bootLen != 0 || bootLen > sizeof x->boot) {
      st[S_UNSUPPORTED]++; /* reboot: #release + #endAll */
      return 0;
    }
    for (uint32_t i = 0; i < bootLen; i++) x->boot[i] = boot[i];
    x->bootLen = bootLen;
    mark_node(x);
  }
  advance(x, t);
  return 1;
}

/* One message of pass 4 (#applyRead): `pre` = key words of pass 1, or 0. */
static void apply_read(const Obs *o, Node *x, const uint32_t *pre) {
  double t = o->timeUs;
  if (!(t > 0)) {
    st[S_INVALID]++; /* checkTime throws */
    return;
  }
  if (x == 0) x = node_of(o->nodeP, o->nodeLen);
  if (x == 0) {
    st[S_UNSUPPORTED]++;
    return;
  }
  if (!admit(x, o->bootP, o->bootLen, t)) {
    st[S_LATE]++;
    return;
  }
  const uint32_t *w = pre;
  if (w == 0) {
    if (!encoded_words(o, kw)) {
      st[S_UNSUPPORTED]++; /* wide flow */
      return;
    }
    w = kw;
  }
  uint32_t h = key_hash(x->hash, w);
  int64_t slot = find_words(w, x->idx, h);
  if (slot < 0) create(o, h, x, w);
  else apply((uint32_t)slot, o, x);
}

/*
 * Pass 1 of a chunk: reads messages [from, end) (message k = base[off[k] + start, off[k + 1])),
 * their key words and hashes. Returns how many were read before a declined one.
 */
static uint32_t read_chunk(const uint8_t *base, const uint32_t *off, uint32_t from, uint32_t end,
                           uint32_t start) {
  uint32_t n = 0;
  for (; from + n < end; n++) {
    uint32_t k = from + n;
    Obs *o = &chunkObs[n];
    if (!read_obs(base + off[k] + start, base + off[k + 1], o)) break;
    chunkHash[n] = -1;
    /* read_obs() forgets the node when the name's bytes differ from the previous message's */
    if (lastNodeSeen == 0) lastNodeSeen = node_find(o->nodeP, o->nodeLen);
    chunkNode[n] = lastNodeSeen;
    if (lastNodeSeen != 0 && encoded_words(o, &chunkWords[n * KEY_WORDS]))
      chunkHash[n] = key_hash(lastNodeSeen->hash, &chunkWords[n * KEY_WORDS]);
  }
  return n;
}

/* Passes 2 and 3 (#prefetch): home buckets, then candidate rows. */
static void prefetch_chunk(uint32_t n) {
  for (uint32_t j = 0; j < n; j++)
    if (chunkHash[j] >= 0) PREFETCH(&table[(uint32_t)chunkHash[j] & mask]);
  for (uint32_t j = 0; j < n; j++) {
    if (chunkHash[j] < 0) continue;
    uint32_t h = (uint32_t)chunkHash[j];
    uint32_t tag = h & 0xff000000u;
    for (uint32_t i = h & mask, probes = 0; probes < 4; i = (i + 1) & mask, probes++) {
      uint32_t v = table[i];
      if (v == 0) break;
      if ((v & 0xff000000u) != tag) continue;
      const uint8_t *rw = (const uint8_t *)&rows[(v & 0xffffff) - 1];
      PREFETCH(rw);
      PREFETCH(rw + 64);
      PREFETCH(rw + 128);
      PREFETCH(rw + 164);
      break;
    }
  }
}

/*
 * observeEncodedBatch() of messages [from, to): message k is base[off[k] .. off[k + 1]), its body
 * from `start` on. Returns the index of the first declined message, `to` when none was.
 */
EXPORT(ce_observe)
uint32_t ce_observe(const uint8_t *base, const uint32_t *off, uint32_t from, uint32_t to, uint32_t start) {
  lastNodeP = 0;
  lastNodeLen = 0;
  lastBootP = 0;
  lastBootLen = 0;
  lastNodeSeen = 0;
  for (uint32_t i = from; i < to;) {
    uint32_t end = to - i < CHUNK ? to : i + CHUNK;
    uint32_t n = read_chunk(base, off, i, end, start);
    prefetch_chunk(n);
    for (uint32_t j = 0; j < n; j++)
      apply_read(&chunkObs[j], chunkNode[j], chunkHash[j] >= 0 ? &chunkWords[j * KEY_WORDS] : 0);
    i += n;
    if (i < end) return i;
  }
  return to;
}

/* Pass 1 alone over [from, to) (read, key words, hash): the message read's share of the time. */
EXPORT(ce_read_only)
uint32_t ce_read_only(const uint8_t *base, const uint32_t *off, uint32_t from, uint32_t to, uint32_t start) {
  lastNodeP = 0;
  lastNodeLen = 0;
  lastBootP = 0;
  lastBootLen = 0;
  lastNodeSeen = 0;
  uint32_t sink = 0;
  for (uint32_t i = from; i < to;) {
    uint32_t end = to - i < CHUNK ? to : i + CHUNK;
    uint32_t n = read_chunk(base, off, i, end, start);
    for (uint32_t j = 0; j < n; j++) sink ^= (uint32_t)chunkHash[j];
    i += n;
    if (i < end) break;
  }
  st[S_SINK] += sink & 1;
  return sink;
}

/* ---- watermark (#release, #fire, #expire) ---- */

static inline int alive(const Row *rw, uint32_t seq, uint32_t nodeIdx) {
  return (rw->flags & F_LIVE) != 0 && rw->seq == seq && rw->node == nodeIdx;
}

static void expire(uint32_t slot, double now) {
  Row *rw = &rows[slot];
  uint32_t flags = rw->flags;
  if (flags & (F_DESTROYED | F_CLOSED | F_QUIET)) {
    st[S_UNSUPPORTED]++; /* removal, end of flow, forgetting */
    return;
  }
  int pend = pending(rw);
  double idleDue = rw->lastChange + O.idleUs;
  double activeDue = pend || !O.suppressZeroDeltaActive ? next_active(rw) : __builtin_inf();
  double maxDue = O.maxLifeUs > 0 ? rw->origin + O.maxLifeUs : __builtin_inf();
  if (idleDue <= activeDue && idleDue <= maxDue) {
    if (pend) emit(slot, R_IDLE);
    rw->flags |= F_QUIET;
  } else if (activeDue <= maxDue) {
    emit(slot, R_ACTIVE);
    set_next_active(rw, phase(rw->origin, now));
  } else {
    if (pend) emit(slot, R_ACTIVE);
    rw->origin = 0;
    rw->flags = (rw->flags | F_QUIET) & ~(uint32_t)(F_NEED_FIRST | F_FIRST_SERIES);
  }
}

static void fire(Node *x, double now) {
  Heap *h = &x->heap;
  while (h->n > 0 && h->deadline[0] <= now) {
    double d = h->deadline[0];
    uint32_t seq = h->seq[0], slot = h->slot[0];
    h_pop(h);
    Row *rw = &rows[slot];
    if (!(alive(rw, seq, x->idx) && rw->heapDeadline == d)) continue;
    double due = deadline_of(rw);
    if (due == d) {
      expire(slot, now);
      if (!alive(rw, seq, x->idx)) continue;
      mark_slot(slot);
    }
    push(x, slot, due == d ? deadline_of(rw) : due);
  }
}

/* watermark() of node `nodeIdx` (its boot id unchanged) at t. */
EXPORT(ce_watermark) void ce_watermark(uint32_t nodeIdx, double t) {
  if (nodeIdx >= nodeCount) {
    st[S_UNSUPPORTED]++;
    return;
  }
  Node *x = nodes[nodeIdx];
  if (t < x->eventTimeUs && !x->gone) {
    /* the dump cycle's watermark older than events observed after it */
  } else if (!admit(x, x->boot, x->bootLen, t)) return;
  if (t <= x->watermarkUs) return;
  x->watermarkUs = t;
  mark_node(x);
  if (x->heap.n > 0 && x->heap.deadline[0] <= t) fire(x, t);
}

/* drainRecords(): clears the dirty marks and the records; returns the pending changes it cleared. */
EXPORT(ce_drain) uint32_t ce_drain(void) {
  uint32_t n = dirtyCount + dirtyNodeCount;
  for (uint32_t i = 0; i < dirtyCount; i++) rows[dirtySlots[i]].flags &= ~DIRTY;
  for (uint32_t i = 0; i < dirtyNodeCount; i++) dirtyNodes[i]->dirty = 0;
  st[S_DIRTY_FLOWS] += dirtyCount;
  st[S_DIRTY_NODES] += dirtyNodeCount;
  dirtyCount = 0;
  dirtyNodeCount = 0;
  return n;
}

/* Index of the node named by name[0..n) (-1 when unknown). */
EXPORT(ce_node_index) int ce_node_index(const uint8_t *name, uint32_t n) {
  Node *x = node_find(name, n);
  return x == 0 ? -1 : (int)x->idx;
}

/*
 * The state of the flow with key words w on node nodeIdx into out[0..16): cur[4], exp[4],
 * lastSeen, lastChange, intervalStart, recordIndex, flags (without dirty), nextActive, connStart,
 * origin. 0 when not tracked.
 */
EXPORT(ce_lookup) int ce_lookup(uint32_t nodeIdx, const uint32_t *w, double *out) {
  if (nodeIdx >= nodeCount) return 0;
  int64_t slot = find_words(w, nodeIdx, key_hash(nodes[nodeIdx]->hash, w));
  if (slot < 0) return 0;
  const Row *rw = &rows[slot];
  for (int i = 0; i < 4; i++) {
    out[i] = rw->cur[i];
    out[4 + i] = rw->exp[i];
  }
  out[8] = rw->lastSeen;
  out[9] = rw->lastChange;
  out[10] = rw->intervalStart;
  out[11] = rw->recordIndex;
  out[12] = rw->flags & 0xffff & ~(uint32_t)F_LIVE;
  out[13] = next_active(rw);
  out[14] = rw->connStart;
  out[15] = rw->origin;
  return 1;
}

EXPORT(ce_size) uint32_t ce_size(void) { return indexSize; }
