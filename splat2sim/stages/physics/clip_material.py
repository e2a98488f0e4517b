"""Zero-shot material classification with open-clip from the object's crops, mapped onto the
material table. Weights are never downloaded here: a local checkpoint, or explicitly
'random' (untrained weights: the code path runs, the answer means nothing; for tests)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splat2sim.errors import DependencyError, InputError, missing_package


@dataclass
class ClipResult:
    material: str
    probability: float
    probabilities: dict[str, float]
    weights: str  # path, or "random"


def _torchvision_shim() -> None:
    """torchvision's only wheel here is a CUDA build whose compiled ops fail to load on the CPU
    torch; its pure-Python parts (used by open-clip's transforms) work once the operator
    ``torchvision::nms`` (and ``qnms``) exist. Define them (a plain CPU NMS) before importing torchvision."""
    import torch

    try:
        torch.ops.torchvision.nms  # noqa: B018 - probing
        return
    except (AttributeError, RuntimeError):
        pass
    try:
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")  # torchvision >= 0.28 registers it too

        def nms(dets, scores, iou_threshold):
            order = torch.argsort(scores, descending=True)
            keep = []
            while order.numel():
                i = order[0]
                keep.append(int(i))
                if order.numel() == 1:
                    break
                rest = order[1:]
                x1 = torch.maximum(dets[i, 0], dets[rest, 0]); y1 = torch.maximum(dets[i, 1], dets[rest, 1])  # noqa: E702
                x2 = torch.minimum(dets[i, 2], dets[rest, 2]); y2 = torch.minimum(dets[i, 3], dets[rest, 3])  # noqa: E702
                inter = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
                area = lambda d: (d[..., 2] - d[..., 0]) * (d[..., 3] - d[..., 1])  # noqa: E731
                iou = inter / (area(dets[i]) + area(dets[rest]) - inter)
                order = rest[iou <= iou_threshold]
            return torch.tensor(keep, dtype=torch.int64)

        lib.impl("nms", nms, "CPU")
        lib.impl("qnms", nms, "CPU")
        _torchvision_shim.lib = lib  # keep the library object alive
    except RuntimeError:
        pass  # already defined by someone else


def find_weights(model: str, weights: str | None) -> str | None:
    if weights:
        if weights == "random":
            return "random"
        path = Path(weights).expanduser()
        if not path.is_file():
            raise InputError(f"CLIP weights {path} do not exist", hint="check physics.clip_weights (`splat2sim models` lists what is used)")
        return str(path)
    root = Path(os.environ.get("SPLAT2SIM_MODELS", "~/.cache/splat2sim/models")).expanduser() / "clip"
    for ext in (".safetensors", ".pt", ".bin"):
        candidate = root / f"{model}{ext}"
        if candidate.is_file():
            return str(candidate)
    return None


_MODELS: dict = {}
_TEXT: dict = {}  # text embeddings of the material prompts, per model


def _load(model: str, weights: str):
    key = (model, weights)
    if key not in _MODELS:
        _torchvision_shim()
        try:
            import open_clip
        except ImportError as exc:
            raise missing_package("open-clip-torch", "CLIP material classification") from exc
        import torch

        torch.manual_seed(0)  # 'random' weights are at least reproducible
        try:
            net, _, preprocess = open_clip.create_model_and_transforms(model, pretrained=None if weights == "random" else weights)
        except Exception as exc:  # noqa: BLE001 - open-clip raises many kinds
            raise DependencyError(f"open-clip could not load {model} from {weights}: {exc}", hint="check physics.clip_model / clip_weights") from exc
        net.eval()
        _MODELS[key] = (net, preprocess, open_clip.get_tokenizer(model))
    return _MODELS[key]


def classify(crops: list[np.ndarray], model: str, weights: str, table: dict) -> ClipResult:
    """crops: RGB uint8 images of one object. Mean of image embeddings vs the material prompts."""
    import torch
    from PIL import Image

    net, preprocess, tokenizer = _load(model, weights)
    names = list(table["materials"])
    prompts, owner = [], []
    for i, name in enumerate(names):
        for text in table["materials"][name].get("clip_prompts") or [f"an object made of {name}"]:
            prompts.append(f"a photo of {text}" if not text.startswith("a photo") else text)
            owner.append(i)
    with torch.no_grad():
        images = torch.stack([preprocess(Image.fromarray(c)) for c in crops])
        img = net.encode_image(images)
        img = img / img.norm(dim=-1, keepdim=True)
        img = img.mean(0, keepdim=True)
        img = img / img.norm(dim=-1, keepdim=True)
        text_key = (model, weights, tuple(prompts))
        txt = _TEXT.get(text_key)
        if txt is None:
            txt = net.encode_text(tokenizer(prompts))
            txt = _TEXT[text_key] = txt / txt.norm(dim=-1, keepdim=True)
        logits = (100.0 * img @ txt.T)[0]
    per_prompt = logits.numpy().astype(np.float64)
    owner = np.asarray(owner)
    per_material = np.array([per_prompt[owner == i].max() for i in range(len(names))])
    p = np.exp(per_material - per_material.max())
    p /= p.sum()
    best = int(np.argmax(p))
    return ClipResult(names[best], float(p[best]), {n: round(float(x), 4) for n, x in zip(names, p)}, weights)
