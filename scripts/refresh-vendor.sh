#!/usr/bin/env bash
# Refresh the console's vendored libraries from the npm registry (and the DejaVu font from Debian).
# Usage: scripts/refresh-vendor.sh [maplibre-version] [milsymbol-version]
# Then update src/keepclear/console/static/vendor/VENDOR.md with the versions printed.
set -euo pipefail
MAPLIBRE="${1:-6.17.0}"
MILSYMBOL="${2:-3.0.4}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENDOR="$ROOT/src/keepclear/console/static/vendor"
FONTS="$ROOT/src/keepclear/console/static/fonts"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
npm pack --silent "maplibre-gl@$MAPLIBRE" "milsymbol@$MILSYMBOL" >/dev/null
mkdir maplibre milsymbol
tar xzf maplibre-gl-"$MAPLIBRE".tgz -C maplibre
tar xzf milsymbol-"$MILSYMBOL".tgz -C milsymbol
mkdir -p "$VENDOR/maplibre-gl" "$VENDOR/milsymbol" "$FONTS"
cp maplibre/package/dist/maplibre-gl.mjs maplibre/package/dist/maplibre-gl-worker.mjs \
   maplibre/package/dist/maplibre-gl.css maplibre/package/LICENSE.txt "$VENDOR/maplibre-gl/"
cp milsymbol/package/dist/milsymbol.js milsymbol/package/LICENSE "$VENDOR/milsymbol/"
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
  apt-get install -y -q fonts-dejavu-core >/dev/null
fi
cp /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf "$FONTS/"
cp /usr/share/doc/fonts-dejavu-core/copyright "$FONTS/LICENSE-DejaVu.txt"
echo "maplibre-gl $MAPLIBRE, milsymbol $MILSYMBOL, fonts-dejavu-core $(dpkg-query -W -f='${Version}' fonts-dejavu-core 2>/dev/null || echo '?')"
