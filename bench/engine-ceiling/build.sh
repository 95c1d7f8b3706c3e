#!/bin/sh
# Builds the engine ceiling bench (bench/engine-ceiling/engine.c) natively and to WebAssembly, from
# the same source, into $OUT (default /tmp/engine-ceiling; nothing is written into the checkout).
# Needs gcc, and clang + wasm-ld (Debian: apt-get install -y clang lld).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/engine-ceiling}
mkdir -p "$OUT"
gcc -std=c11 -O2 -Wall -Wextra -o "$OUT/engine-native" "$here/engine.c" "$here/native.c" -lm
# The same binary, with the wasm build's prefetch (a plain load instead of a prefetch instruction).
gcc -std=c11 -O2 -Wall -Wextra -DTOUCH_PREFETCH -o "$OUT/engine-native-touch" "$here/engine.c" "$here/native.c" -lm
# The same with clang (the compiler of the wasm build), to tell the compiler from the target apart.
clang -std=c11 -O2 -Wall -Wextra -o "$OUT/engine-native-clang" "$here/engine.c" "$here/native.c" -lm
# clang with the large tables on transparent huge pages (madvise), what a production native path could do.
clang -std=c11 -O2 -Wall -Wextra -DHUGE_PAGES -o "$OUT/engine-native-clang-thp" "$here/engine.c" "$here/native.c" -lm
clang --target=wasm32 -std=c11 -O2 -Wall -Wextra -nostdlib -mbulk-memory \
  -Wl,--no-entry -Wl,--export-dynamic -Wl,--initial-memory=67108864 -Wl,--max-memory=4294967296 \
  -o "$OUT/engine.wasm" "$here/engine.c"
ls -l "$OUT"
