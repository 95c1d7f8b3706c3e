/*
 * Native driver of engine.c (bench only): reads commands on stdin, one per line, answers one JSON
 * line each on stdout, so that bench/engine-ceiling/run.ts can alternate it with the TypeScript
 * engine and the WebAssembly build round by round while it keeps its flows between rounds.
 *
 *   I <capacity>   allocate the engine
 *   R <file>       every node poll of a poll file (format in run.ts): observe (CPU timed), then the
 *                  node's watermark (timed apart), then drain (timed apart)
 *   T <file>       pass 1 alone (read + key words + hash) over the same polls, CPU timed
 *   V <file>       state of sample flows (u32 count, then per flow u32 node + 5 key words)
 *   Q              quit
 *
 * CPU time is clock_gettime(CLOCK_PROCESS_CPUTIME_ID); reading the file is not timed.
 */
#define _DEFAULT_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void *ce_alloc(uint32_t n);
int ce_init(uint32_t capacity);
uint32_t ce_observe(const uint8_t *base, const uint32_t *off, uint32_t from, uint32_t to, uint32_t start);
uint32_t ce_read_only(const uint8_t *base, const uint32_t *off, uint32_t from, uint32_t to, uint32_t start);
void ce_watermark(uint32_t nodeIdx, double t);
uint32_t ce_drain(void);
int ce_lookup(uint32_t nodeIdx, const uint32_t *w, double *out);
double ce_stat(int i);
uint32_t ce_size(void);

#define BODY_START 10 /* single-object header (C3 01 + 8-byte fingerprint) */

static double cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static uint8_t *load(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = NULL;
  if (n > 0 && posix_memalign((void **)&b, 64, (size_t)n) == 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return b;
}

/* Poll p of a poll file: header at *at, advances *at past it. */
typedef struct {
  uint32_t node, n;
  double wm;
  const uint32_t *off;
  const uint8_t *bytes;
} Poll;

static Poll next_poll(const uint8_t *file, size_t *at) {
  Poll p;
  const uint8_t *h = file + *at;
  memcpy(&p.node, h, 4);
  memcpy(&p.n, h + 4, 4);
  memcpy(&p.wm, h + 8, 8);
  p.off = (const uint32_t *)(h + 16);
  p.bytes = h + 16 + 4 * ((size_t)p.n + 1);
  size_t size = 16 + 4 * ((size_t)p.n + 1) + p.off[p.n];
  *at += (size + 7) & ~(size_t)7;
  return p;
}

static void stats_json(void) {
  printf("\"records\":%.0f,\"pushes\":%.0f,\"unsupported\":%.0f,\"late\":%.0f,\"conflicts\":%.0f,"
         "\"created\":%.0f,\"applied\":%.0f,\"invalid\":%.0f,\"dirtyFlows\":%.0f,\"dirtyNodes\":%.0f,"
         "\"size\":%u",
         ce_stat(0), ce_stat(1), ce_stat(2), ce_stat(3), ce_stat(4), ce_stat(5), ce_stat(6), ce_stat(7),
         ce_stat(8), ce_stat(9), ce_size());
}

int main(void) {
  char line[4096];
  while (fgets(line, sizeof line, stdin) != NULL) {
    line[strcspn(line, "\n")] = 0;
    char cmd = line[0];
    const char *arg = line[0] != 0 && line[1] == ' ' ? line + 2 : "";
    if (cmd == 'Q') break;
    if (cmd == 'I') {
      printf("{\"ok\":%d}\n", ce_init((uint32_t)strtoul(arg, NULL, 10)));
    } else if (cmd == 'R' || cmd == 'T') {
      size_t len = 0;
      uint8_t *file = load(arg, &len);
      if (file == NULL) {
        printf("{\"error\":\"cannot read %s\"}\n", arg);
        fflush(stdout);
        continue;
      }
      uint32_t polls;
      memcpy(&polls, file + 4, 4);
      size_t at = 8;
      double obsNs = 0, wmNs = 0, drainNs = 0;
      double observed = 0, declined = 0, pending = 0;
      uint32_t sink = 0;
      for (uint32_t k = 0; k < polls; k++) {
        Poll p = next_poll(file, &at);
        double c0 = cpu_ns();
        if (cmd == 'T') {
          sink ^= ce_read_only(p.bytes, p.off, 0, p.n, BODY_START);
          obsNs += cpu_ns() - c0;
          observed += p.n;
          continue;
        }
        uint32_t done = ce_observe(p.bytes, p.off, 0, p.n, BODY_START);
        double c1 = cpu_ns();
        ce_watermark(p.node, p.wm);
        double c2 = cpu_ns();
        pending += ce_drain();
        double c3 = cpu_ns();
        obsNs += c1 - c0;
        wmNs += c2 - c1;
        drainNs += c3 - c2;
        observed += done;
        declined += p.n - done;
      }
      free(file);
      printf("{\"observed\":%.0f,\"declined\":%.0f,\"obsNs\":%.0f,\"wmNs\":%.0f,\"drainNs\":%.0f,"
             "\"pending\":%.0f,\"sink\":%u,",
             observed, declined, obsNs, wmNs, drainNs, pending, sink & 1);
      stats_json();
      printf("}\n");
    } else if (cmd == 'V') {
      size_t len = 0;
      uint8_t *file = load(arg, &len);
      uint32_t n = 0;
      if (file != NULL) memcpy(&n, file, 4);
      printf("{\"values\":[");
      for (uint32_t i = 0; i < n; i++) {
        uint32_t rec[6];
        memcpy(rec, file + 4 + 24 * (size_t)i, 24);
        double out[16];
        int found = ce_lookup(rec[0], rec + 1, out);
        printf("%s[%d", i == 0 ? "" : ",", found);
        for (int j = 0; j < 16; j++) printf(",%.17g", found ? out[j] : 0.0);
        printf("]");
      }
      printf("]}\n");
      free(file);
    } else {
      printf("{\"error\":\"unknown command\"}\n");
    }
    fflush(stdout);
  }
  return 0;
}
