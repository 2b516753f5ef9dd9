#!/bin/sh
# What `npm start` runs after `npm run build` (and the Docker image runs): the server bundle under
# plain node, with two memory settings measured by the footprint benchmark (bench/README.md).
# Either is left alone when you set the variable yourself; arguments go to node (e.g. --cpu-prof).
#
# - GLIBC_TUNABLES: a fixed malloc mmap threshold. Every password hash (scrypt) takes 16 MiB of
#   scratch; with glibc's dynamic threshold each libuv worker thread keeps its 16 MiB afterwards
#   (64 MiB with the default 4 threads). Fixed, the scratch is mapped and unmapped each time.
# - NODE_OPTIONS: a 4 MiB young generation semi-space instead of V8's 16 MiB: 50 MiB less resident
#   with 7,000 sockets, at the price of more frequent minor GCs.
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=1048576}"
export NODE_OPTIONS="${NODE_OPTIONS:---max-semi-space-size=4}"
exec node --enable-source-maps "$@" dist/server/server.js
