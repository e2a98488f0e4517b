"""open-clip labels: masked crops of each object from several keyframes, scored against a
vocabulary, probabilities averaged over the views."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splat2sim.errors import ConfigError
from splat2sim.model_loading import ClipModel

PROMPT = "a photo of a {}."


def find_weights(cfg):
    from splat2sim import models as M

    if cfg.clip_checkpoint:
        path = Path(cfg.clip_checkpoint).expanduser()
        if not path.is_file():
            raise ConfigError(f"segment.clip_checkpoint {path} does not exist", hint="give open-clip weights, or unset it")
        return path
    names = [n for n, s in M.MODELS.items() if s.family == "clip" and s.arch == cfg.clip_model]
    hit = M.find("clip", names) if names else None
    return hit.path if hit else None


def missing_reason(cfg) -> str:
    from splat2sim import models as M

    names = [n for n, s in M.MODELS.items() if s.family == "clip" and s.arch == cfg.clip_model]
    if not names:
        return f"no known weights for open-clip {cfg.clip_model}; set segment.clip_checkpoint"
    return f"no open-clip {cfg.clip_model} weights in {M.models_dir()}; `splat2sim models download {names[0]}` fetches them"


def load_clip(arch: str, weights: Path | None, device: str = "cpu") -> ClipModel:
    """open-clip ``arch`` with ``weights`` (state dict, loaded weights_only / safetensors);
    ``weights=None`` gives randomly initialised weights (tests)."""
    from splat2sim.model_loading import load_clip as load

    return load(arch, weights, device, purpose="open-clip labels", hint="set segment.clip_model to the checkpoint's architecture")


def read_vocabulary(path: str | None) -> list[str]:
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise ConfigError(f"vocabulary file {p} does not exist", hint="one label per line")
    else:
        p = Path(__file__).resolve().parents[2] / "assets" / "vocabulary.txt"
    words = [w.strip() for w in p.read_text().splitlines()]
    words = list(dict.fromkeys(w for w in words if w and not w.startswith("#")))
    if not words:
        raise ConfigError(f"vocabulary {p} is empty")
    return words


def encode_texts(bundle: ClipModel, words: list[str]) -> np.ndarray:
    import torch

    with torch.no_grad():
        tokens = bundle.tokenizer([PROMPT.format(w) for w in words]).to(bundle.device)
        feats = bundle.model.encode_text(tokens).float()
    return (feats / feats.norm(dim=-1, keepdim=True).clamp_min(1e-12)).cpu().numpy()


def encode_images(bundle: ClipModel, crops: list[np.ndarray]) -> np.ndarray:
    import torch
    from PIL import Image

    if not crops:
        return np.zeros((0, 0))
    with torch.no_grad():
        batch = torch.stack([bundle.preprocess(Image.fromarray(c)) for c in crops]).to(bundle.device)
        feats = bundle.model.encode_image(batch).float()
    return (feats / feats.norm(dim=-1, keepdim=True).clamp_min(1e-12)).cpu().numpy()


def logit_scale(bundle: ClipModel) -> float:
    scale = getattr(bundle.model, "logit_scale", None)
    return float(scale.exp().item()) if scale is not None else 100.0


def aggregate(image_feats: np.ndarray, text_feats: np.ndarray, scale: float) -> tuple[int, float, np.ndarray]:
    """Softmax over the vocabulary per crop, averaged over crops: (best index, its mean
    probability, mean probabilities [V])."""
    logits = scale * image_feats @ text_feats.T  # [V_crops, W]
    logits -= logits.max(1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(1, keepdims=True)
    mean = p.mean(0)
    best = int(mean.argmax())
    return best, float(mean[best]), mean


def masked_crop(image: np.ndarray, mask: np.ndarray, pad: float = 0.1, grey: int = 127) -> np.ndarray:
    """The mask's bounding box (padded, square) with everything outside the mask grey."""
    from scipy import ndimage

    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = int(max(y1 - y0, x1 - x0) * (1 + 2 * pad)) + 1
    cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
    out = np.full((side, side, 3), grey, np.uint8)
    keep = ndimage.binary_dilation(mask, iterations=1)
    src = np.where(keep[..., None], image, grey).astype(np.uint8)
    sy0, sx0 = cy - side // 2, cx - side // 2
    a0, b0 = max(0, sy0), max(0, sx0)
    a1, b1 = min(image.shape[0], sy0 + side), min(image.shape[1], sx0 + side)
    out[a0 - sy0 : a1 - sy0, b0 - sx0 : b1 - sx0] = src[a0:a1, b0:b1]
    return out


@dataclass
class LabelResult:
    labels: list[str | None]
    scores: list[float | None]
    notes: list[str]
    info: dict


def label_objects(bundle: ClipModel, gaussians, views, labels: np.ndarray, count: int, vocabulary: list[str], cfg,
                  min_pixels: int = 64) -> LabelResult:  # fmt: skip
    """Name each of ``count`` objects: its ``cfg.clip_views`` most visible keyframes (from
    ``cfg.visibility_views`` spread over the capture), masked crops, CLIP scores averaged."""
    from splat2sim.stages.segment.lifting import label_images
    from splat2sim.stages.segment.views import spread

    sub = views.subset(spread(cfg.visibility_views, views.num))
    regions = label_images(gaussians, sub.cameras(), labels)
    text = encode_texts(bundle, vocabulary)
    scale = logit_scale(bundle)
    images: dict[int, np.ndarray] = {}
    out = LabelResult([], [], [], {"vocabulary": len(vocabulary), "views_per_object": []})
    for k in range(count):
        areas = (regions == k).reshape(len(regions), -1).sum(1)
        best_views = [int(v) for v in np.argsort(-areas)[: cfg.clip_views] if areas[v] >= min_pixels]
        if not best_views:
            out.labels.append(None), out.scores.append(None), out.notes.append("not visible enough in any keyframe for a CLIP label")
            out.info["views_per_object"].append(0)
            continue
        crops = []
        for v in best_views:
            if v not in images:
                images[v] = sub.image(v)
            crops.append(masked_crop(images[v], regions[v] == k))
        best, score, mean = aggregate(encode_images(bundle, crops), text, scale)
        runner = int(np.argsort(-mean)[1]) if len(mean) > 1 else best
        out.labels.append(vocabulary[best])
        out.scores.append(score)
        out.notes.append(f"clip: {vocabulary[best]} {score:.2f}, next {vocabulary[runner]} {mean[runner]:.2f} ({len(crops)} views)")
        out.info["views_per_object"].append(len(crops))
    return out
