#!/bin/sh
# Install the console's front-end libraries from the npm registry (pinned by package-lock.json)
# and copy the files the templates load into static/vendor/. Idempotent: safe to run on every
# setup. Source maps are copied too because the production ManifestStaticFilesStorage rewrites
# each `sourceMappingURL` and fails on a missing map.
set -eu

ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$ROOT"

npm ci --no-audit --no-fund

VENDOR="$ROOT/static/vendor"
MODULES="$ROOT/node_modules"

# Start from a clean vendor tree so a removed library or renamed file never lingers.
rm -rf "$VENDOR"
mkdir -p "$VENDOR/leaflet/images" "$VENDOR/htmx" "$VENDOR/chartjs"

cp "$MODULES/leaflet/dist/leaflet.js" "$MODULES/leaflet/dist/leaflet.js.map" \
   "$MODULES/leaflet/dist/leaflet.css" "$VENDOR/leaflet/"
cp "$MODULES/leaflet/dist/images/"*.png "$VENDOR/leaflet/images/"
cp "$MODULES/htmx.org/dist/htmx.min.js" "$VENDOR/htmx/"
cp "$MODULES/chart.js/dist/chart.umd.min.js" "$MODULES/chart.js/dist/chart.umd.min.js.map" \
   "$VENDOR/chartjs/"

# Licences travel with the code we serve.
cp "$MODULES/leaflet/LICENSE" "$VENDOR/leaflet/LICENSE"
cp "$MODULES/htmx.org/LICENSE" "$VENDOR/htmx/LICENSE"
cp "$MODULES/chart.js/LICENSE.md" "$VENDOR/chartjs/LICENSE.md"

version() {
    node -p "JSON.parse(require('fs').readFileSync('$MODULES/$1/package.json', 'utf8')).version"
}
echo "static/vendor/ ready: leaflet $(version leaflet), htmx $(version htmx.org), chart.js $(version chart.js)"
