#!/usr/bin/env bash
# Debian packages splat2sim uses: EGL / OSMesa for MuJoCo's offscreen renderer (synthetic
# captures, simulator pictures), OpenMP for the native kernels, libsdformat (the reference
# SDFormat parser, to validate exported .sdf files), and chromium (tests open the HTML report).
set -euo pipefail
packages=(libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libosmesa6 libgomp1 libsdformat-dev chromium)
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "splat2sim: please install with your package manager: ${missing[*]}" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
  command -v sudo >/dev/null 2>&1 || { echo "splat2sim: as root, run: apt-get install ${missing[*]}" >&2; exit 0; }
else
  SUDO=""
fi
echo "splat2sim: installing Debian packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
