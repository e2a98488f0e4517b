"""Zero-shot material classification with open-clip from the object's crops, mapped onto the
material table. Weights are never downloaded here: a local checkpoint, or explicitly
'random' (untrained weights: the code path runs, the answer means nothing; for tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splat2sim.errors import DependencyError, InputError

HINT = "check physics.clip_model / clip_weights"


@dataclass
class ClipResult:
    material: str
    probability: float
    probabilities: dict[str, float]
    weights: str  # path, or "random"


def find_weights(model: str, weights: str | None) -> str | None:
    from splat2sim.models import models_dir

    if weights:
        if weights == "random":
            return "random"
        path = Path(weights).expanduser()
        if not path.is_file():
            raise InputError(f"CLIP weights {path} do not exist", hint="check physics.clip_weights (`splat2sim models` lists what is used)")
        return str(path)
    root = models_dir() / "clip"
    for ext in (".safetensors", ".pt", ".bin"):
        candidate = root / f"{model}{ext}"
        if candidate.is_file():
            return str(candidate)
    return None


_TEXT: dict = {}  # text embeddings of the material prompts, per model


def _load(model: str, weights: str):
    """(net, preprocess, tokenizer) from the shared open-clip loader (and its cache)."""
    from splat2sim.model_loading import load_clip

    try:
        clip = load_clip(model, None if weights == "random" else weights, "cpu", purpose="CLIP material classification", hint=HINT)
    except InputError as exc:  # weights that do not fit: a loading failure, as open-clip reports it
        raise DependencyError(f"open-clip could not load {model} from {weights}: {exc.message}", hint=HINT) from exc
    return clip.model, clip.preprocess, clip.tokenizer


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
