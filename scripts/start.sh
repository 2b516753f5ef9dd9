#!/bin/sh
# What `npm start` runs after `npm run build` (and the Docker image runs): the server bundle under
# plain node. Arguments go to node (e.g. --cpu-prof).
#
# GLIBC_TUNABLES (unless you set it): a fixed malloc mmap threshold. Every password hash (scrypt)
# takes 16 MiB of scratch; with glibc's dynamic threshold each libuv worker thread keeps its
# 16 MiB afterwards (64 MiB with the default 4 threads). Fixed, the scratch is mapped and
# unmapped each time. Measured in bench/README.md (footprint).
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=1048576}"
exec node --enable-source-maps "$@" dist/server/server.js
