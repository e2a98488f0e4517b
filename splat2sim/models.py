"""Model weights the stages can use: where they are looked for, checking, explicit download.

    folder = models_dir()                       # $SPLAT2SIM_MODELS or ~/.cache/splat2sim/models
    for spec in MODELS.values(): print(spec.name, check(spec).state)
    download("sam_vit_b")                       # only ever on request; never at import or run

Nothing here downloads implicitly. Weights are loaded with ``torch.load(weights_only=True)``
or from safetensors (``load_state_dict``), never by unpickling arbitrary objects.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from splat2sim.errors import DependencyError, InputError

ENV_VAR = "SPLAT2SIM_MODELS"


@dataclass(frozen=True)
class ModelSpec:
    name: str  # key used on the command line
    stage: str  # stage that can use it
    family: str  # "sam" | "clip"
    arch: str  # SAM registry key or open-clip architecture
    filename: str  # file name under the models folder
    url: str  # official source
    size: int | None  # bytes, when pinned
    md5: str | None = None
    sha256: str | None = None
    description: str = ""


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec("sam_vit_h", "segment", "sam", "vit_h", "sam_vit_h_4b8939.pth",
                  "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth", 2564550879,
                  md5="4b8939a88964f0f4ff5f5b2642c598a6", description="segment-anything ViT-H (best masks, 2.4 GB)"),
        ModelSpec("sam_vit_l", "segment", "sam", "vit_l", "sam_vit_l_0b3195.pth",
                  "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth", 1249524607,
                  md5="0b3195507c641ddb6910d2bb5adee89c", description="segment-anything ViT-L (1.2 GB)"),
        ModelSpec("sam_vit_b", "segment", "sam", "vit_b", "sam_vit_b_01ec64.pth",
                  "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth", 375042383,
                  md5="01ec64d29a2fca3f0661936605ae66f8", description="segment-anything ViT-B (fastest, 358 MB)"),
        ModelSpec("clip_vit_b_32", "segment, physics", "clip", "ViT-B-32", "open_clip_ViT-B-32_laion2b_s34b_b79k.safetensors",
                  "https://huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K/resolve/main/open_clip_model.safetensors", None,
                  description="open-clip ViT-B-32 (LAION-2B) for object labels and materials"),
        ModelSpec("clip_vit_l_14", "segment, physics", "clip", "ViT-L-14", "open_clip_ViT-L-14_laion2b_s32b_b82k.safetensors",
                  "https://huggingface.co/laion/CLIP-ViT-L-14-laion2B-s32B-b82K/resolve/main/open_clip_model.safetensors", None,
                  description="open-clip ViT-L-14 (LAION-2B), better labels, slower"),
    ]
}  # fmt: skip


def models_dir() -> Path:
    """Where weights are looked for: $SPLAT2SIM_MODELS, default ~/.cache/splat2sim/models."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "splat2sim" / "models"


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise InputError(f"unknown model '{name}'", hint="known models: " + ", ".join(MODELS)) from None


def path_of(spec: ModelSpec, folder: Path | None = None) -> Path:
    return (folder or models_dir()) / spec.filename


@dataclass
class ModelCheck:
    spec: ModelSpec
    path: Path
    state: str  # missing | ok | unverified | size mismatch | checksum mismatch
    size: int | None = None
    detail: str = ""

    @property
    def present(self) -> bool:
        return self.state != "missing"

    @property
    def checksum(self) -> str:
        """'match', 'mismatch' or 'unchecked' (not hashed, or no official hash pinned)."""
        if self.state in ("size mismatch", "checksum mismatch"):
            return "mismatch"
        if self.state == "ok" and "matches" in self.detail and "hash not checked" not in self.detail:
            return "match"
        return "unchecked"


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def check(spec: ModelSpec, folder: Path | None = None, *, hash_files: bool = True, path: Path | None = None) -> ModelCheck:
    """Is ``spec``'s file there, and does it match the pinned size and hash?"""
    p = Path(path) if path else path_of(spec, folder)
    if not p.is_file():
        return ModelCheck(spec, p, "missing")
    size = p.stat().st_size
    if spec.size is not None and size != spec.size:
        return ModelCheck(spec, p, "size mismatch", size, f"{size} bytes, official file has {spec.size}")
    if hash_files and (spec.sha256 or spec.md5):
        algo, want = ("sha256", spec.sha256) if spec.sha256 else ("md5", spec.md5)
        got = file_digest(p, algo)
        if got != want:
            return ModelCheck(spec, p, "checksum mismatch", size, f"{algo} {got}, official {want}")
        return ModelCheck(spec, p, "ok", size, f"{algo} matches")
    if spec.size is None:
        return ModelCheck(spec, p, "unverified", size, "no official size or hash pinned: only loading checks it")
    return ModelCheck(spec, p, "ok", size, "size matches" + (" (hash not checked)" if (spec.sha256 or spec.md5) else ""))


def find(family: str, preference: list[str] | None = None, folder: Path | None = None) -> ModelCheck | None:
    """The first present model of ``family`` (in ``preference`` order of names), or None."""
    names = preference or [n for n, s in MODELS.items() if s.family == family]
    for name in names:
        result = check(get_spec(name), folder, hash_files=False)
        if result.present:
            return result
    return None


def download(name: str, folder: Path | None = None, *, url: str | None = None, timeout: float = 30.0, progress=None) -> Path:
    """Download model ``name`` from its official URL into the models folder (explicit request
    only). Verifies size and hash; a failed or mismatching download leaves nothing behind."""
    import urllib.error
    import urllib.request

    spec = get_spec(name)
    folder = folder or models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / spec.filename
    part = target.with_name(target.name + ".part")
    source = url or spec.url
    try:
        with urllib.request.urlopen(source, timeout=timeout) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or spec.size
            done = 0
            while True:
                block = response.read(1 << 20)
                if not block:
                    break
                out.write(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        part.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise DependencyError(
            f"could not download {spec.name} from {source}: {reason}",
            hint=f"this machine may have no network: fetch {spec.url} elsewhere and copy it to {target}",
        ) from None
    result = check(spec, path=part)
    if result.state in ("size mismatch", "checksum mismatch"):
        part.unlink(missing_ok=True)
        raise DependencyError(f"the download of {spec.name} is corrupt: {result.detail}", hint="retry the download")
    part.replace(target)
    return target


def load_state_dict(path: Path, map_location="cpu") -> dict:
    """A state dict from a .safetensors or a torch file, without unpickling code."""
    import torch

    path = Path(path)
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            from splat2sim.errors import missing_package

            raise missing_package("safetensors", "loading .safetensors weights") from None
        return load_file(str(path), device=str(map_location))
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling refusal or corrupt file
        raise InputError(f"{path} is not a loadable weights file: {exc}",
                         hint="re-download it with `splat2sim models download NAME`") from None  # fmt: skip
    if isinstance(data, dict) and "state_dict" in data and isinstance(data["state_dict"], dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise InputError(f"{path} holds a {type(data).__name__}, not a state dict")
    return data


def import_torchvision():
    """Import torchvision on installs whose wheel lacks its compiled ops (a CUDA-only wheel
    beside a CPU torch): its pure-Python parts, which segment-anything and open-clip use,
    only need the ``torchvision::nms`` operators to be declared. A pure-torch NMS is
    registered for them; on a normal install nothing is changed."""
    import torch

    try:
        import torchvision  # noqa: F401

        return torchvision
    except RuntimeError as exc:
        if "torchvision::nms" not in str(exc):
            raise
    import sys

    for mod in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[mod]
    _declare_nms(torch)
    import torchvision

    return torchvision


_NMS_LIB = None


def _nms(dets, scores, iou_threshold: float):
    import torch

    x1, y1, x2, y2 = dets.unbind(1)
    area = (x2 - x1).clamp_min(0) * (y2 - y1).clamp_min(0)
    suppressed = torch.zeros(len(dets), dtype=torch.bool, device=dets.device)
    keep = []
    for i in scores.argsort(descending=True).tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        w = (torch.minimum(x2[i], x2) - torch.maximum(x1[i], x1)).clamp_min(0)
        h = (torch.minimum(y2[i], y2) - torch.maximum(y1[i], y1)).clamp_min(0)
        inter = w * h
        suppressed |= inter / (area[i] + area - inter).clamp_min(1e-12) > iou_threshold
    return torch.tensor(keep, dtype=torch.long, device=dets.device)


def _declare_nms(torch) -> None:
    global _NMS_LIB
    if _NMS_LIB is not None:
        return
    lib = torch.library.Library("torchvision", "FRAGMENT")
    for op in ("nms", "qnms"):
        lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.impl(op, _nms, "CompositeExplicitAutograd")
    _NMS_LIB = lib


def require(module: str, purpose: str):
    """Import segment_anything / open_clip (through the torchvision workaround)."""
    import importlib

    import_torchvision()
    try:
        return importlib.import_module(module)
    except ImportError:
        from splat2sim.errors import missing_package

        raise missing_package({"segment_anything": "segment-anything", "open_clip": "open-clip-torch"}.get(module, module), purpose) from None
