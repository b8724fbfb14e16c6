#!/bin/sh
# Renders the PNG icons from their SVG sources (resources/icons/*.svg) with rsvg-convert
# (Debian: librsvg2-bin). The PNGs are committed, so a build does not need it; run this
# after changing an SVG.
#   build/icons/NxN.png            the app icon at every size electron-builder installs
#   resources/icons/chronodisk.png the window's icon (256 px)
#   resources/icons/tray-STATE.png the tray icon per capture state, 1x (32 px) and @2x (64 px)
set -eu
cd "$(dirname "$0")/.."
command -v rsvg-convert >/dev/null || { echo "render-icons: rsvg-convert is missing; install librsvg2-bin" >&2; exit 1; }
for size in 16 24 32 48 64 128 256 512; do
  rsvg-convert -w "$size" -h "$size" resources/icons/chronodisk.svg -o "build/icons/${size}x${size}.png"
done
rsvg-convert -w 256 -h 256 resources/icons/chronodisk.svg -o resources/icons/chronodisk.png
for state in capturing paused idle not-connected; do
  rsvg-convert -w 32 -h 32 "resources/icons/tray-$state.svg" -o "resources/icons/tray-$state.png"
  rsvg-convert -w 64 -h 64 "resources/icons/tray-$state.svg" -o "resources/icons/tray-$state@2x.png"
done
echo "render-icons: done"
