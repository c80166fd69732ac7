#!/usr/bin/env bash
# Install the desktop entry, AppStream metainfo and icons under an XDG prefix, so desktops
# list the viewer and show its icon; with --app, also the frozen app and a launcher on PATH.
#
#   packaging/linux/install.sh [--prefix DIR] [--app DIR]
#
# --prefix  default ~/.local (per user); /usr/local for every user (as root)
# --app     a folder built by packaging/build.sh (packaging/dist/csv-state-viewer): copied
#           to PREFIX/lib/csv-state-viewer, with PREFIX/bin/csv-state-viewer linking to it.
#           Without it the .desktop's Exec=csv-state-viewer must already be on PATH (as
#           after `pipx install .` or `pip install --user .`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
id=io.github.csv_state_viewer
prefix=$HOME/.local
app=
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --app) app=$(cd "$2" && pwd); shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
share=$prefix/share
icons=$root/resources/icons

install -Dm644 "$here/$id.desktop" "$share/applications/$id.desktop"
install -Dm644 "$here/$id.metainfo.xml" "$share/metainfo/$id.metainfo.xml"
install -Dm644 "$icons/csv-state-viewer.svg" "$share/icons/hicolor/scalable/apps/$id.svg"
for size in 16 32 48 64 128 256 512; do
  install -Dm644 "$icons/csv-state-viewer-$size.png" \
    "$share/icons/hicolor/${size}x${size}/apps/$id.png"
done

if [ -n "$app" ]; then
  rm -rf "$prefix/lib/csv-state-viewer"
  mkdir -p "$prefix/lib" "$prefix/bin"
  cp -a "$app" "$prefix/lib/csv-state-viewer"
  ln -sfn "$prefix/lib/csv-state-viewer/csv-state-viewer" "$prefix/bin/csv-state-viewer"
fi

# Refresh the caches when their tools are there (desktops also notice changes by themselves).
if command -v update-desktop-database >/dev/null; then
  update-desktop-database -q "$share/applications" || true
fi
if command -v gtk-update-icon-cache >/dev/null && [ -f "$share/icons/hicolor/index.theme" ]; then
  gtk-update-icon-cache -q "$share/icons/hicolor" || true
fi
echo "installed $id under $prefix"
