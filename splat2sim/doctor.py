"""`splat2sim doctor`: what is installed and what can run here, with reasons."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys

PACKAGES = [
    "numpy",
    "typer",
    "rich",
    "av",
    "opencv-python-headless",
    "mujoco",
    "torch",
    "gsplat",
    "open3d-cpu",
    "open3d",
    "trimesh",
    "coacd",
    "pybullet",
    "pycolmap",
    "usd-core",
    "simready-validate",
    "simready-foundation-tier-core",
    "viser",
    "segment-anything",
    "open-clip-torch",
    "ray",
]


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _probe(code: str, env: dict | None = None, timeout: float = 60) -> tuple[bool, str]:
    """Run a snippet in a fresh interpreter: a crashing GL driver cannot take us down."""
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:.0f} s"
    if done.returncode == 0:
        return True, done.stdout.strip()
    lines = (done.stderr or done.stdout).strip().splitlines()
    return False, lines[-1] if lines else f"exit code {done.returncode}"


def collect() -> dict:
    packages = {name: _version(name) for name in PACKAGES}
    packages = {k: v for k, v in packages.items() if not (k == "open3d" and packages.get("open3d-cpu"))}
    caps = []

    ok, detail = _probe("import av; print('libx264' if 'libx264' in av.codecs_available else 'no libx264 encoder')")
    caps.append({"name": "video decode/encode (PyAV)", "ok": ok and "no" not in detail, "detail": detail})

    for gl in ("egl", "osmesa"):
        ok, detail = _probe(
            "import mujoco; m=mujoco.MjModel.from_xml_string('<mujoco/>'); r=mujoco.Renderer(m,8,8); r.close(); print('ok')",
            env={"MUJOCO_GL": gl},
        )
        caps.append({"name": f"MuJoCo offscreen rendering ({gl})", "ok": ok, "detail": detail if not ok else "works"})

    if packages.get("torch"):
        ok, detail = _probe(
            "import torch; ok = torch.cuda.is_available(); "
            "print(f'{ok} ' + (torch.cuda.get_device_name(0) if ok else f'torch {torch.__version__} sees no CUDA device'))"
        )
        cuda = ok and detail.startswith("True")
        caps.append({"name": "CUDA GPU (torch)", "ok": cuda, "detail": detail.split(" ", 1)[-1]})
        ok, detail = _probe(
            "import json, torch\n"
            "from splat2sim.render import resolve_backend, selfcheck\n"
            "out = {}\n"
            "for name in ('torch', 'native', 'gsplat'):\n"
            "    device = 'cuda' if (name == 'gsplat' or torch.cuda.is_available()) else 'cpu'\n"
            "    try:\n"
            "        out[name] = {'available': True, 'reason': resolve_backend(name, device)[1]}\n"
            "    except Exception as exc:\n"
            "        out[name] = {'available': False, 'reason': str(exc).splitlines()[0]}\n"
            "    check = selfcheck.cached(name, device)\n"
            "    if check is not None:\n"
            "        out[name]['self_check'] = check.to_dict()\n"
            "print(json.dumps(out))",
            timeout=600,
        )
        if ok:
            import json

            for name, info in json.loads(detail.splitlines()[-1]).items():
                caps.append({"name": f"render backend '{name}'", "ok": bool(info.get("available")), "detail": info.get("reason", "")})
                check = info.get("self_check")
                if check:  # the first use on this device: a fixed scene and its gradients against the torch reference
                    caps.append({"name": f"self-check '{name}' on {check['device']}", "ok": bool(check["ok"]),
                                 "detail": f"{check['detail']} [{check['seconds']:.2f} s]"})  # fmt: skip
        else:
            caps.append({"name": "render backends", "ok": False, "detail": detail})
    else:
        caps.append({"name": "CUDA GPU (torch)", "ok": False, "detail": "torch is not installed"})

    nvcc = shutil.which("nvcc")
    caps.append({"name": "nvcc (CUDA kernel compile check)", "ok": bool(nvcc), "detail": nvcc or "not on PATH"})
    models = os.environ.get("SPLAT2SIM_MODELS", os.path.expanduser("~/.cache/splat2sim/models"))
    caps.append({"name": "model folder", "ok": os.path.isdir(models), "detail": models})
    return {"python": sys.version.split()[0], "packages": packages, "capabilities": caps}
