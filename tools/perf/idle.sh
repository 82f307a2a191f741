#!/usr/bin/env bash
# Idle CPU: the wall with nothing changing (demo paused, reactive redraw) and, for contrast,
# the demo playing at ×60. Prints CPU time as % of one core over SECONDS (30) after WARM (20).
source "$(dirname "$0")/common.sh"
SECONDS_MEASURED="${SECONDS_MEASURED:-30}"; WARM="${WARM:-20}"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
measure() { # label args...
  local label=$1; shift
  xvfb-run -a -s "-screen 0 1920x1080x24" "$BIN" --window 1920x1080 "$@" >/dev/null 2>&1 &
  local wrapper=$! pid=""
  # The app itself (its process name), not the xvfb-run wrapper whose command line names it.
  for _ in $(seq 100); do pid=$(pgrep -P "$wrapper" -x situation-wall || true); [ -n "$pid" ] && break; sleep 0.2; done
  [ -n "$pid" ] || { echo "$label: the app did not start"; return; }
  sleep "$WARM"
  local a; a=$(cpu_ticks "$pid"); sleep "$SECONDS_MEASURED"; local b; b=$(cpu_ticks "$pid")
  kill "$pid" 2>/dev/null || true; wait "$wrapper" 2>/dev/null || true
  printf '%-32s %6.1f %% of one core\n' "$label" "$(awk -v a="$a" -v b="$b" -v s="$SECONDS_MEASURED" 'BEGIN{print (b-a)/s}')"
}
measure "43 units, demo paused (idle)" --config "$WORK/bare.toml" --map "$REAL" --paused
measure "43 units, demo playing ×60" --config "$WORK/bare.toml" --map "$REAL"
