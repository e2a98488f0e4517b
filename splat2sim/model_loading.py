"""Loading the optional models (open-clip, segment-anything) with their weights, for every
stage that uses them. Nothing is downloaded here: weights are a local file, read as a
state dict without unpickling code (``models.load_state_dict``), or none (random
initialisation, seeded; for tests).

    clip = load_clip("ViT-B-32", path, device="cpu")   # ClipModel: model, preprocess, tokenizer
    sam = load_sam("vit_b", path, device="cuda")        # the segment-anything model

Open-clip models are cached (the segment and physics stages share them; physics asks for
one per object). Only the latest one is kept, so that a model on a GPU does not outlive the
stage that needs it by more than one load. Segment-anything models are not cached: they
are loaded once per segment run and are the largest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from splat2sim.errors import DependencyError, InputError
from splat2sim.models import load_state_dict, require


@dataclass
class ClipModel:
    model: object
    preprocess: object
    tokenizer: object
    device: str = "cpu"
    info: dict = field(default_factory=dict)


_CLIP_CACHE: dict[tuple, ClipModel] = {}


def clear_cache() -> None:
    """Forget the cached models (their memory is freed once nothing else holds them)."""
    _CLIP_CACHE.clear()


def _file_key(path) -> tuple | None:
    """Identifies a weights file's content cheaply: a file replaced in place is reloaded."""
    if path is None:
        return None
    p = Path(path).expanduser().resolve()
    if not p.is_file():
        return str(p), None, None  # loading it reports the problem
    st = p.stat()
    return str(p), st.st_mtime_ns, st.st_size


def load_weights(model, path, what: str, hint: str | None = None, *, strict: bool = False) -> int:
    """Load the state dict at ``path`` into ``model``; returns the number of unexpected
    tensors. Raises InputError when tensors the model needs are missing or of the wrong
    shape (``what`` names the model, ``hint`` says what to set instead)."""
    state = load_state_dict(Path(path))
    if state and all(k.startswith("module.") for k in state):  # saved from a DataParallel wrapper
        state = {k[len("module.") :]: v for k, v in state.items()}
    try:
        missing, unexpected = model.load_state_dict(state, strict=strict)
    except RuntimeError as exc:  # tensors of the wrong shape (or missing ones, when strict)
        detail = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise InputError(f"{path} does not fit {what}: {detail[1] if len(detail) > 1 else detail[0]}", hint=hint) from None
    if missing:
        raise InputError(f"{path} does not fit {what}: {len(missing)} missing tensors (e.g. {missing[0]})", hint=hint)
    return len(unexpected)


def load_clip(arch: str, weights=None, device="cpu", *, purpose: str = "open-clip labels",
              hint: str | None = None) -> ClipModel:  # fmt: skip
    """open-clip ``arch`` on ``device`` with ``weights`` (a local state dict; None: random
    weights, seeded). Raises DependencyError when open-clip is missing (naming ``purpose``)
    or cannot build ``arch``, InputError when the weights do not fit it (with ``hint``)."""
    key = (arch, _file_key(weights), str(device))
    if key not in _CLIP_CACHE:
        loaded = _load_clip(arch, weights, str(device), purpose, hint)
        _CLIP_CACHE.clear()  # keep one: see the module docstring
        _CLIP_CACHE[key] = loaded
    return _CLIP_CACHE[key]


def _load_clip(arch: str, weights, device: str, purpose: str, hint: str | None) -> ClipModel:
    oc = require("open_clip", purpose)
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # random weights are at least reproducible
        try:
            model, _, preprocess = oc.create_model_and_transforms(arch, pretrained=None)
        except Exception as exc:  # noqa: BLE001 - open-clip raises many kinds
            raise DependencyError(f"open-clip could not load {arch} from {weights or 'random'}: {exc}", hint=hint) from exc
    info = {"arch": arch, "weights": str(weights) if weights else None}
    if weights is not None:
        info["unexpected_tensors"] = load_weights(model, weights, f"open-clip {arch}", hint)
    model.to(device).eval()
    return ClipModel(model, preprocess, oc.get_tokenizer(arch), device, info)


def load_sam(arch: str, weights, device="cpu", *, purpose: str = "segment-anything masks"):
    """The segment-anything model ``arch`` (vit_h, vit_l, vit_b) with ``weights`` (a local
    checkpoint, loaded strictly) on ``device``."""
    sa = require("segment_anything", purpose)
    model = sa.sam_model_registry[arch](checkpoint=None)
    load_weights(model, weights, f"segment-anything {arch}", "set segment.sam_model to the checkpoint's architecture", strict=True)
    model.to(device).eval()
    return model
