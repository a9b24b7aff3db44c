#!/usr/bin/env bash
# Vendor the console's JavaScript from the npm registry into src/distillguard/console/static/.
# Run by a maintainer when upgrading; the copied files are committed, so nothing is fetched at
# run time and no CDN is ever used. Versions are pinned in package.json (repository root).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/src/distillguard/console/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$root/package.json" "$work/"
(cd "$work" && npm install --no-audit --no-fund --ignore-scripts --omit=dev >/dev/null)
mkdir -p "$dest"
nm="$work/node_modules"
copy() {  # copy PACKAGE FILE AS
  cp "$nm/$1/$2" "$dest/$3"
}
copy htmx.org dist/htmx.min.js htmx.min.js
copy cytoscape dist/cytoscape.min.js cytoscape.min.js
copy vega build/vega.min.js vega.min.js
copy vega-lite build/vega-lite.min.js vega-lite.min.js
copy vega-embed build/vega-embed.min.js vega-embed.min.js
for pkg in htmx.org cytoscape vega vega-lite vega-embed; do
  lic="$(ls "$nm/$pkg" | grep -i -m1 '^licen[cs]e' || true)"
  if [ -z "$lic" ]; then echo "no licence file in $pkg" >&2; exit 1; fi
  cp "$nm/$pkg/$lic" "$dest/LICENSE.$pkg.txt"
done
{
  echo "Vendored by scripts/vendor_console_assets.sh from the npm registry:"
  for pkg in htmx.org cytoscape vega vega-lite vega-embed; do
    node -e "const p=require('$nm/$pkg/package.json'); console.log(p.name+' '+p.version+' ('+p.license+')')"
  done
} > "$dest/VERSIONS.txt"
cat "$dest/VERSIONS.txt"
