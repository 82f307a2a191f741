#!/usr/bin/env bash
# Frame-time harness: renders each map headless (xvfb-run + Mesa lavapipe) with every unit
# rescored every frame and two alerts a second (--churn), and prints mean and 99th-percentile
# frame time, CPU ms per frame, fps, first data frame and RSS, with the ratio to an empty
# scene measured in the same run. Usage: tools/perf/frames.sh [WIDTHxHEIGHT ...]
# Env: FRAMES (30), WARMUP (30), RENDERERS ("merged palette"), PALETTE_MAX (1000: larger maps
# are not run in palette mode, one entity per unit takes minutes a frame there), SYNTH ("1000
# 10000": the synthetic maps' unit counts; "1000 10000 100000" adds the city of communities),
# PROFILE (release; see common.sh).
source "$(dirname "$0")/common.sh"
FRAMES="${FRAMES:-30}"; WARMUP="${WARMUP:-30}"; RENDERERS="${RENDERERS:-merged palette}"; PALETTE_MAX="${PALETTE_MAX:-1000}"; SYNTH="${SYNTH:-1000 10000}"
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(1920x1080)
MAPS=("$REAL:43")
for n in $SYNTH; do
  "$BIN" synth-map --units "$n" --out "$WORK/synthetic-$n.geojson" >/dev/null
  MAPS+=("$WORK/synthetic-$n.geojson:$n")
done
run() { # size renderer args... -> the frame-stats JSON
  local size=$1 renderer=$2; shift 2
  xvfb-run -a -s "-screen 0 ${size}x24" "$BIN" --window "$size" --renderer "$renderer" --config "$WORK/bare.toml" \
    --frame-stats "$FRAMES" --warmup "$WARMUP" "$@" 2>/dev/null | grep '^frame-stats' | cut -d' ' -f2-
}
printf '%-10s %-16s %-8s %9s %9s %9s %7s %10s %8s %7s\n' size map renderer mean_ms p99_ms cpu_ms fps first_ms rss_mib ×empty
for size in "${SIZES[@]}"; do
  empty=$(run "$size" merged --empty-scene --churn)
  base=$(field "$empty" mean_ms)
  printf '%-10s %-16s %-8s %9.1f %9.1f %9.1f %7.2f %10.0f %8.0f %7.2f\n' "$size" empty merged "$base" "$(field "$empty" p99_ms)" "$(field "$empty" cpu_ms_per_frame)" "$(field "$empty" fps)" "$(field "$empty" first_data_frame_ms)" "$(field "$empty" rss_mib)" 1
  for map in "${MAPS[@]}"; do
    file=${map%:*}; units=${map##*:}
    for renderer in $RENDERERS; do
      [ "$renderer" = palette ] && [ "$units" -gt "$PALETTE_MAX" ] && continue
      out=$(run "$size" "$renderer" --map "$file" --churn)
      [ -n "$out" ] || { echo "$size $units $renderer: no figures (the run failed)"; continue; }
      mean=$(field "$out" mean_ms)
      printf '%-10s %-16s %-8s %9.1f %9.1f %9.1f %7.2f %10.0f %8.0f %7.2f\n' "$size" "$units units" "$renderer" "$mean" "$(field "$out" p99_ms)" "$(field "$out" cpu_ms_per_frame)" "$(field "$out" fps)" "$(field "$out" first_data_frame_ms)" "$(field "$out" rss_mib)" "$(awk -v a="$mean" -v b="$base" 'BEGIN{printf "%.2f", a/b}')"
    done
  done
done
