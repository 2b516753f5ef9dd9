#!/bin/sh
# What `npm start` runs after `npm run build` (and the Docker image runs): the server bundle under
# plain node. Arguments go to node (e.g. --cpu-prof), after the flags set here, so they win.
#
# GLIBC_TUNABLES (unless you set it): a fixed malloc mmap threshold. Every password hash (scrypt)
# takes 16 MiB of scratch; with glibc's dynamic threshold each libuv worker thread keeps its
# 16 MiB afterwards (64 MiB with the default 4 threads). Fixed, the scratch is mapped and
# unmapped each time. Measured in bench/README.md (footprint).
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=1048576}"
#
# --heap-growing-percent=100 (when this node's V8 has the flag): after a full collection the old
# generation may grow to twice what survived it before the next, a fixed factor instead of the one
# V8 picks each time (from 1.1x to 4x, by how fast its collector runs). Under chat load V8 picked
# about 1.4x and starts marking a young generation's worth (16 MiB) before that limit, so a full
# collection (a 5-16 ms pause) came every 4-6 s; with 2x, one in 35 s, for about 30 MiB more heap.
# While thousands of sockets connect, V8 seems to pick more than 2x: the footprint scenario measured
# 244-249 MiB with this against 268-276 without. Both in bench/README.md (eleventh session). Pass
# --heap-growing-percent=0 to get V8's own choice back.
heap_flags=""
if node --v8-options 2>/dev/null | grep -q -- '--heap-growing-percent'; then heap_flags="--heap-growing-percent=100"; fi
exec node --enable-source-maps $heap_flags "$@" dist/server/server.js
