#!/usr/bin/env bash
# Packs the .deb, checks its contents and runs both binaries from the unpacked tree.
set -euo pipefail
build=$1
cd "$build"
rm -rf packages
cpack -G DEB >cpack.log 2>&1 || { cat cpack.log; exit 1; }
deb=$(ls packages/quire_*.deb | head -n1)
echo "package: $deb"
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/quire ./usr/bin/quire-cli ./usr/share/applications/io.quire.Quire.desktop \
         ./usr/share/metainfo/io.quire.Quire.metainfo.xml \
         ./usr/share/icons/hicolor/scalable/apps/io.quire.Quire.svg; do
  grep -qF " $f" <<<"$contents" || { echo "missing from the package: $f"; exit 1; }
done
dpkg-deb -f "$deb" Depends | grep -q libqt6widgets6 || { echo "Depends lacks Qt"; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
"$root/usr/bin/quire" --version | grep -q '^quire 0\.'
QUIRE_DATA_DIR="$root/data" "$root/usr/bin/quire-cli" --version | grep -q '^quire-cli 0\.'
if command -v desktop-file-validate >/dev/null; then desktop-file-validate "$root/usr/share/applications/io.quire.Quire.desktop"; fi
echo "deb ok"
