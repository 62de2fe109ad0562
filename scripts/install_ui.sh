#!/usr/bin/env bash
# Install the browser libraries of `budgetkg serve` from the npm registry: the SPARQL query
# editor (YASGUI, @zazuko/yasgui) and the chart library (Apache ECharts, echarts). The built
# files are copied into budgetkg/serve/static/vendor/{yasgui,echarts}/ (git-ignored) and served
# by budgetkg itself, so the pages work offline.
# Versions are pinned by budgetkg/serve/ui/package.json and package-lock.json.
# Without this step the query page falls back to a plain form and charts to static SVG.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ui="$repo/budgetkg/serve/ui"
vendor="$repo/budgetkg/serve/static/vendor"

if ! command -v npm >/dev/null 2>&1; then
  echo "install_ui.sh: npm is required (Debian: apt-get install -y npm)" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$ui/package.json" "$ui/package-lock.json" "$work/"
(cd "$work" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)

build="$work/node_modules/@zazuko/yasgui/build"
mkdir -p "$vendor/yasgui"
cp "$build/yasgui.min.js" "$build/yasgui.min.css" "$vendor/yasgui/"
version="$(node -p "require('$work/node_modules/@zazuko/yasgui/package.json').version" 2>/dev/null || echo unknown)"
printf '@zazuko/yasgui %s (MIT licence), installed by scripts/install_ui.sh\n' "$version" \
  > "$vendor/yasgui/VERSION"
echo "YASGUI $version installed in $vendor/yasgui"

charts="$work/node_modules/echarts/dist"
mkdir -p "$vendor/echarts"
cp "$charts/echarts.min.js" "$vendor/echarts/"
version="$(node -p "require('$work/node_modules/echarts/package.json').version" 2>/dev/null || echo unknown)"
printf 'echarts %s (Apache-2.0 licence), installed by scripts/install_ui.sh\n' "$version" > "$vendor/echarts/VERSION"
echo "ECharts $version installed in $vendor/echarts"
