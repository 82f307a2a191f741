# Shared by the measurement scripts: build the binary once (the release profile, what users
# run; PROFILE=dev for the faster-building dev profile), find the maps.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/situation-wall/target}"
PROFILE="${PROFILE:-release}"
if [ "$PROFILE" = dev ]; then
  cargo build --quiet --bin situation-wall; BIN="$CARGO_TARGET_DIR/debug/situation-wall"
else
  cargo build --quiet --release --bin situation-wall; BIN="$CARGO_TARGET_DIR/release/situation-wall"
fi
WORK="${WORK:-$(mktemp -d)}"
# The real 43 units where ../shared is present, else the built-in schematic (same units).
REAL=../shared/maps/chaoyang_townships.geojson
[ -f "$REAL" ] || REAL=maps/chaoyang_schematic.geojson
# Units only, like deck.gl's benchmark: no context layer, no bureaus.
printf '[map]\ncontext = ""\nbureaus = ""\n' > "$WORK/bare.toml"
# Reads one field of the app's `frame-stats {json}` line.
field() { grep -o "\"$2\":[0-9.eE+-]*" <<<"$1" | cut -d: -f2; }
