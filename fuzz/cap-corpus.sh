#!/usr/bin/env bash
# Shrinks fuzz/corpus/TARGET to what is worth committing: the named seeds, then found inputs
# chosen greedily by the coverage edges they add, at most MAX_FILES files and MAX_BYTES bytes.
#
#   bash fuzz/cap-corpus.sh TARGET [MORE_CORPUS_DIRS...]
#
# libFuzzer's merge (`cargo fuzz cmin`) keeps every input that adds a feature, which after a
# long run is thousands of files; this keeps the inputs that cover the most edges instead and
# says what share of the merged corpus's edges the kept set covers. The binary is the one
# `cargo fuzz build` makes (FUZZ_BIN overrides it; build file_decode with -O, as it is run).
set -euo pipefail

target=${1:?usage: fuzz/cap-corpus.sh TARGET [MORE_CORPUS_DIRS...]}
shift
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin=${FUZZ_BIN:-$root/fuzz/target/x86_64-unknown-linux-gnu/release/$target}
corpus="$root/fuzz/corpus/$target"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/merged" "$work/all"
# One flat directory of every input (duplicates by content collapse: files are named by hash).
for dir in "$corpus" "$@"; do
  find "$dir" -maxdepth 1 -type f -print0 | while IFS= read -r -d '' f; do
    name=$(basename "$f")
    [[ $name =~ ^[0-9a-f]{40}$ ]] || { cp "$f" "$work/all/$name"; continue; }
    cp "$f" "$work/all/$(sha1sum "$f" | cut -c1-40)"
  done
done
"$bin" -merge=1 -use_counters=0 -merge_control_file="$work/control" "$work/merged" "$work/all" \
  > "$work/merge.log" 2>&1 || { tail -20 "$work/merge.log"; exit 1; }

python3 - "$work/control" "$corpus" "${MAX_FILES:-100}" "${MAX_BYTES:-300000}" << 'PYTHON'
import os
import re
import shutil
import sys

control, corpus, max_files, max_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lines = open(control).read().split("\n")
n = int(lines[0])
paths = lines[2:2 + n]
edges = {}
for line in lines[2 + n:]:
    if line.startswith("COV "):
        _, idx, *pcs = line.split()
        edges[int(idx)] = set(pcs)
size = {i: os.path.getsize(p) for i, p in enumerate(paths)}
everything = set().union(*edges.values()) if edges else set()
seed = {i for i, p in enumerate(paths) if not re.fullmatch(r"[0-9a-f]{40}", os.path.basename(p))}
chosen, covered, used = sorted(seed), set(), 0
for i in chosen:
    covered |= edges.get(i, set())
    used += size[i]
left = [i for i in edges if i not in seed]
while len(chosen) < max_files and left:
    best = max(left, key=lambda i: (len(edges[i] - covered), -size[i]))
    gain = len(edges[best] - covered)
    if gain == 0:
        break
    left.remove(best)
    if used + size[best] > max_bytes:
        continue
    chosen.append(best)
    covered |= edges[best]
    used += size[best]
for f in os.listdir(corpus):
    os.remove(os.path.join(corpus, f))
for i in chosen:
    shutil.copy(paths[i], os.path.join(corpus, os.path.basename(paths[i])))
print(f"{os.path.basename(corpus)}: kept {len(chosen)} of {n} inputs ({len(seed)} seeds), "
      f"{used} bytes, {len(covered)} of {len(everything)} edges "
      f"({100 * len(covered) / max(1, len(everything)):.1f} %)")
PYTHON
