#!/usr/bin/env bash
# rtcore beside its peers in the shared LSL latency benchmark, measured in the same rounds.
# Each round runs every peer once (the benchmark's own run_all.sh), then rtcore at 1 kHz and at
# 4 kHz on configs/bench/peer_lsl.toml. Needs the benchmark's venvs (its setup_venvs.sh).
# usage: [PEERS=../shared/bench/peers] [ROUNDS="1 2 3"] [RTCORE=rtcore] bash benchmarks/run_peers.sh OUTDIR
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=$(cd "${PEERS:-$ROOT/../shared/bench/peers}" && pwd)
OUT=$(mkdir -p "${1:?usage: run_peers.sh OUTDIR}" && cd "$1" && pwd)
RTCORE=${RTCORE:-rtcore}
BASE_PY=/tmp/peerbench/venvs/base/bin/python
CONFIG=$ROOT/configs/bench/peer_lsl.toml
# compile (or load) the engine first, so no measured run waits for Numba
"$RTCORE" run "$ROOT/configs/bench/tick.toml" --fast --set session.duration_s=1 --set "session.out=$OUT/warmup" >/dev/null
VERSION=$("$RTCORE" --version 2>/dev/null || echo rtcore)
for run in ${ROUNDS:-1 2 3}; do
  RUNS=$run bash "$PEERS/run_all.sh" "$OUT" >/dev/null
  for rate in 1000 4000; do
    "$BASE_PY" "$PEERS/harness.py" --outdir "$OUT" --warmup 3 --dur 20 --grace 2 --max-s 100 --run "$run" \
      --name "rtcore-$((rate / 1000))k" --version "$VERSION" -- \
      "$RTCORE" run "$CONFIG" --set "loop.rate_hz=$rate" --set "session.out=$OUT/rtcore-$((rate / 1000))k.run$run/session" >/dev/null
  done
done
"$BASE_PY" "$PEERS/report.py" "$OUT" > "$OUT/table.md"
cat "$OUT/table.md"
