#!/usr/bin/env bash
# Creates the separate venv that bench/bench_render_peers.py runs the peer rasterizers in.
# Nothing here touches the project's .venv (its pins are checked): the peers need packages
# (taichi, jax, warp, keras) that the project does not.
#
#   bash bench/peers/setup_venv.sh [VENV]        # default /work/peers-venv (or $PEERS_VENV)
#
# Notes on what installs (see bench/results/render_cpu_peers.json for what then runs):
#   * taichi-splatting 0.13.0 requires `taichi-nightly`, which PyPI has only as 0.5.11 (2020,
#     no wheel for this Python); it is installed with --no-deps on top of taichi 1.7.4.
#   * splax 0.2.3 requires jax[cuda]; installed with --no-deps on top of CPU jax/jaxlib.
#   * gsplat 1.5.3 builds CUDA kernels on first use; installed with --no-deps (no ninja).
#   * litesplat 0.1.1 is installed with --no-deps (its deps are pinned in requirements.txt).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${1:-${PEERS_VENV:-/work/peers-venv}}"
PY="${PYTHON:-python3.11}"

test -x "$VENV/bin/python" || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/pip" install --quiet --disable-pip-version-check)
# The same CPU torch as the project's venv (the constraints file holds the pin).
"${PIP[@]}" -c "$REPO/requirements/constraints.txt" torch==2.13.0 numpy==2.4.6
"${PIP[@]}" -r "$HERE/requirements.txt"
"${PIP[@]}" --no-deps taichi-splatting==0.13.0 splax==0.2.3 litesplat==0.1.1 gsplat==1.5.3
# (taichi_splatting is not imported here: its import JIT-compiles CUDA code, see the bench.)
KERAS_BACKEND=torch "$VENV/bin/python" -c "import torch, taichi, keras, litesplat, jax, warp, splax; assert torch.__version__.startswith('2.13.0')"
echo "peers venv ready: $VENV"
