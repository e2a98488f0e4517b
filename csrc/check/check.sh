#!/bin/sh
# Compile-check the native kernels on a machine without a GPU (no CUDA build of torch needed).
#
#   sh csrc/check/check.sh [gxx] [nvcc] [sort] [binding]
#       (no argument: all four; binding then only where torch's and CUDA's headers are)
#
#   gxx      g++ -Wall -Wextra -Werror: the shared headers on their own (check/headers.cpp),
#            the CPU kernels (cpu/*.cpp) and the CUDA launcher interface (check/launchers.cpp).
#   nvcc     every CUDA kernel file (cuda/*.cu but sort.cu) for each architecture in
#            NVCC_ARCHS (default "80 86 89 90"): one nvcc call per file with one -gencode per
#            architecture, files in parallel; plus the shared headers alone as device code
#            (check/headers.cu) for the last architecture.
#   sort     cuda/sort.cu, which holds nothing but cub's radix sort and scan (the slowest
#            file to compile, about 10 s per architecture): the last architecture, or all
#            of them with SORT_ALL_ARCHS=1.
#   binding  g++ -fsyntax-only of the torch binding (cuda_ext.cpp) against the headers of
#            the torch that $PYTHON imports (default: .venv/bin/python, else python3) and
#            the CUDA headers; a CPU build of torch ships the c10/cuda headers it needs.
set -e
cd "$(dirname "$0")/../.."
ARCHS="${NVCC_ARCHS:-80 86 89 90}"
NVCC="${NVCC:-nvcc}"
MODES="$*"
[ -n "$MODES" ] || MODES="gxx nvcc sort binding?"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

check_gxx() {
  GXX="g++ -std=c++17 -O1 -Wall -Wextra -Werror"
  $GXX -I csrc/include -c csrc/check/headers.cpp -o /dev/null
  for f in csrc/cpu/projection.cpp csrc/cpu/sh.cpp csrc/cpu/rasterize.cpp; do
    $GXX -fopenmp -I csrc/include -c "$f" -o /dev/null
  done
  $GXX -I csrc -c csrc/check/launchers.cpp -o /dev/null
  echo "g++: shared headers, CPU kernels and CUDA launcher interface OK"
}

NVCC_FLAGS="-std=c++17 -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror -I csrc/include -I csrc/cuda"

gencodes() {
  for a in "$@"; do printf ' -gencode arch=compute_%s,code=sm_%s' "$a" "$a"; done
}

last_arch() {
  for a in $ARCHS; do :; done
  echo "$a"
}

# nvcc_jobs "GENCODE FILE" ...: one nvcc call per file, in parallel; prints the logs.
nvcc_jobs() {
  pids=""
  n=0
  for job in "$@"; do
    n=$((n + 1))
    f="${job##* }"
    g="${job% *}"
    # shellcheck disable=SC2086
    ( $NVCC $NVCC_FLAGS $g -c "$f" -o "$TMP/$n.o" >"$TMP/$n.log" 2>&1 || { echo "FAILED: nvcc $g $f" >>"$TMP/$n.log"; exit 1; } ) &
    pids="$pids $!"
  done
  failed=0
  for p in $pids; do wait "$p" || failed=1; done
  cat "$TMP"/*.log
  rm -f "$TMP"/*.log "$TMP"/*.o
  [ "$failed" = 0 ]
}

check_nvcc() {
  all="$(gencodes $ARCHS)"
  set -- "$(gencodes "$(last_arch)") csrc/check/headers.cu"
  for f in csrc/cuda/*.cu; do
    [ "$f" = csrc/cuda/sort.cu ] || set -- "$@" "$all $f"
  done
  nvcc_jobs "$@" || exit 1
  echo "nvcc: CUDA kernels OK for sm_$(echo $ARCHS | sed 's/ /, sm_/g'); shared headers alone OK for sm_$(last_arch)"
}

check_sort() {
  if [ "${SORT_ALL_ARCHS:-0}" = 1 ]; then archs="$ARCHS"; else archs="$(last_arch)"; fi
  nvcc_jobs "$(gencodes $archs) csrc/cuda/sort.cu" || exit 1
  echo "nvcc: cub sort and scan (cuda/sort.cu) OK for sm_$(echo $archs | sed 's/ /, sm_/g')"
}

# Prints the include flags for torch's and CUDA's headers, or nothing (with the reason on
# stderr) when they are not there.
binding_includes() {
  py="${PYTHON:-}"
  if [ -z "$py" ]; then
    if [ -x .venv/bin/python ]; then py=.venv/bin/python; else py=python3; fi
  fi
  "$py" - <<'EOF'
import os, shutil, sys, sysconfig
try:
    import torch
except ImportError:
    sys.exit("torch is not importable")
inc = os.path.join(os.path.dirname(torch.__file__), "include")
if not os.path.isfile(os.path.join(inc, "c10", "cuda", "CUDAGuard.h")):
    sys.exit(f"torch's c10/cuda headers are missing under {inc}")
homes = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")]
if shutil.which("nvcc"):  # nvcc may be a wrapper script outside the toolkit: try both
    homes.append(os.path.dirname(os.path.dirname(os.path.realpath(shutil.which("nvcc")))))
homes.append("/usr/local/cuda")
found = [os.path.join(h, "include") for h in homes if h and os.path.isfile(os.path.join(h, "include", "cuda_runtime_api.h"))]
if not found:
    sys.exit("the CUDA headers are missing (no include/cuda_runtime_api.h under CUDA_HOME, nvcc's folder or /usr/local/cuda)")
cuda_inc = found[0]
print(" ".join(["-isystem " + p for p in (inc, os.path.join(inc, "torch", "csrc", "api", "include"),
                                           sysconfig.get_paths()["include"], cuda_inc)]))
EOF
}

check_binding() {
  optional="$1"
  if ! inc="$(binding_includes 2>"$TMP/why")"; then
    if [ "$optional" = 1 ]; then
      echo "binding: skipped ($(cat "$TMP/why"))"
      return 0
    fi
    echo "binding: cannot check: $(cat "$TMP/why")" >&2
    exit 1
  fi
  # C++20 as torch.utils.cpp_extension builds extensions; C10_CUDA_NO_CMAKE_CONFIGURE_FILE:
  # the CPU wheel lacks c10/cuda's generated macro header. About 20 s (torch's headers).
  # shellcheck disable=SC2086
  g++ -std=c++20 -fsyntax-only -Wall -Wextra -Werror -DC10_CUDA_NO_CMAKE_CONFIGURE_FILE \
    -DTORCH_EXTENSION_NAME=splat2sim_native_cuda -DTORCH_API_INCLUDE_EXTENSION_H $inc \
    -I csrc -I csrc/include csrc/cuda_ext.cpp
  echo "binding: csrc/cuda_ext.cpp OK against torch's and CUDA's headers (syntax only)"
}

for m in $MODES; do
  case "$m" in
    gxx) check_gxx ;;
    nvcc) check_nvcc ;;
    sort) check_sort ;;
    binding) check_binding 0 ;;
    binding\?) check_binding 1 ;;
    *) echo "unknown check: $m (use gxx, nvcc, sort or binding)" >&2; exit 2 ;;
  esac
done
