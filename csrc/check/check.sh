#!/bin/sh
# Compile-check the shared kernel headers with nvcc (CUDA) and g++ (host), no GPU needed.
# Usage: sh csrc/check/check.sh   (from the repository root; NVCC_ARCH defaults to sm_90)
set -e
cd "$(dirname "$0")/../.."
ARCH="${NVCC_ARCH:-sm_90}"
nvcc -std=c++17 -arch="$ARCH" -I csrc/include -c csrc/check/headers.cu -o /dev/null
for f in csrc/cpu/projection.cpp csrc/cpu/sh.cpp csrc/cpu/rasterize.cpp; do
  g++ -std=c++17 -O2 -fopenmp -Wall -Wextra -Werror -I csrc/include -c "$f" -o /dev/null
done
echo "csrc headers: nvcc ($ARCH) and g++ OK"
