#!/usr/bin/env bash
# Soak: the demo (24 h, with its alerts) replayed at ×SPEED (144: a simulated day in 10
# minutes), looping, headless, sampling RSS, entities and mesh/material/buffer asset counts
# into a CSV every SAMPLE_S (5) seconds for MINUTES (10); then the growth after WARMUP_S (60).
# Usage: tools/perf/soak.sh [OUT.csv [APP ARGS...]], e.g. for a synthetic map rescored every
# frame: tools/perf/soak.sh out.csv --map synthetic-10000.geojson --churn
source "$(dirname "$0")/common.sh"
OUT="${1:-$WORK/soak.csv}"; shift || true; SPEED="${SPEED:-144}"; MINUTES="${MINUTES:-10}"; SAMPLE_S="${SAMPLE_S:-5}"; WARMUP_S="${WARMUP_S:-60}"
xvfb-run -a -s "-screen 0 1280x720x24" "$BIN" --window 1280x720 --speed "$SPEED" --soak-csv "$OUT" --soak-sample-s "$SAMPLE_S" \
  --exit-after-s "$((MINUTES * 60))" "$@" >/dev/null 2>&1
echo "soak CSV: $OUT ($(($(wc -l <"$OUT") - 1)) samples)"
awk -F, -v warm="$WARMUP_S" -v speed="$SPEED" '
  NR == 1 { next }
  $1 >= warm && !seen { seen = 1; t0 = $1; r0 = $3; e0 = $4 - $9; m0 = $5; s0 = $6; u0 = $7; b0 = $8; g0 = $12 }
  seen { t1 = $1; r1 = $3; e = $4 - $9; emin = (emin == "" || e < emin) ? e : emin; emax = (e > emax) ? e : emax
         if ($5 != m0 || $6 != s0 || $7 != u0 || $8 != b0 || $12 != g0) assets_moved = 1; rmax = ($3 > rmax) ? $3 : rmax; rip = ($9 > rip) ? $9 : rip }
  END {
    days = (t1 - t0) * speed / 86400
    printf "after %d s warm-up: %.0f s = %.2f simulated days\n", warm, t1 - t0, days
    printf "RSS %.1f -> %.1f MiB (max %.1f): %+.2f %% per simulated day, %+.2f %% per hour of running\n", r0 / 1024, r1 / 1024, rmax / 1024, (days > 0 ? 100 * (r1 - r0) / r0 / days : 0), (t1 > t0 ? 100 * (r1 - r0) / r0 * 3600 / (t1 - t0) : 0)
    printf "entities without ripples %d..%d; ripples at most %d\n", emin, emax, rip
    printf "assets: meshes %d, standard materials %d, unit materials %d, ring materials %d, shader buffers %d: %s\n", m0, s0, u0, g0, b0, (assets_moved ? "CHANGED" : "constant")
  }' "$OUT"
