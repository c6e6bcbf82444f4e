#!/usr/bin/env bash
# bench/runtime/runqgrab_variants.sh: how a thief should wait before stealing a busy P's
# runnext (scheduler/proc.cpp, runqgrab). Builds runtime_bench four times (usleep(3) as in
# the tree, sched_yield(), a bounded spin until runnext changes, no wait), then runs the
# three benchmarks that steal runnext, interleaved round by round, and prints medians.
#
#   bench/runtime/runqgrab_variants.sh [ROUNDS]     default 5; leaves the tree as it was
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
out=$(mktemp -d)
cp scheduler/proc.cpp "$out/proc.cpp.orig"
trap 'cp "$out/proc.cpp.orig" scheduler/proc.cpp' EXIT
python3 - "$out" <<'PY'
import subprocess, shutil, sys
out = sys.argv[1]
orig = open(f'{out}/proc.cpp.orig').read()
old = '''          if (pp->m.load(std::memory_order_relaxed) != nullptr) {
            usleep(3);
          }'''
assert old in orig, 'runqgrab no longer has usleep(3): update this script'
variants = {
    'usleep': old,
    'yield': old.replace('usleep(3);', 'sched_yield();'),
    'spin': old.replace('usleep(3);', '''for (int i = 0; i < 100 && pp->runnext.load(std::memory_order_relaxed) == next; i++) {
              cpu_relax();
            }'''),
    'none': '',
}
for name, code in variants.items():
    open('scheduler/proc.cpp', 'w').write(orig.replace(old, code))
    subprocess.run('cmake --preset release >/dev/null && cmake --build --preset release --target runtime_bench >/dev/null',
                   shell=True, check=True)
    shutil.copy('build/release/bench/runtime_bench', f'{out}/{name}')
open('scheduler/proc.cpp', 'w').write(orig)
PY
for ((r = 1; r <= rounds; r++)); do
  for v in usleep yield spin none; do
    "$out/$v" --benchmark_filter='BM_ChanPingPong/2|BM_SpawnJoin/2|BM_TcpPingPong' \
      --benchmark_min_time=0.5 --benchmark_format=json 2>/dev/null |
      python3 -c "import json,sys; [print('$v', b['name'], b['real_time']) for b in json.load(sys.stdin)['benchmarks']]" \
        >>"$out/results"
  done
done
python3 - "$out/results" <<'PY'
import collections, statistics, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    v, name, ns = line.split()
    d[name, v].append(float(ns))
for name in sorted({n for n, _ in d}):
    print(f'{name:32s}', '  '.join(f'{v} {statistics.median(d[name, v]):8.0f}' for v in ('usleep', 'yield', 'spin', 'none')))
PY
cmake --build --preset release --target runtime_bench >/dev/null
