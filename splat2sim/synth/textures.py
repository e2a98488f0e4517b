"""Procedural textures: non-repeating, feature-rich images so that SIFT finds keypoints
everywhere (no large blank or periodic areas), deterministic from a numpy Generator.

Every function returns uint8 RGB arrays of shape (H, W, 3).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def fractal_noise(rng: np.random.Generator, height: int, width: int, octaves: int = 6, base_cells: int = 4, persistence: float = 0.55) -> np.ndarray:
    """Multi-octave value noise in [0, 1], shape (height, width). Random grids upsampled
    bicubically: cheap, smooth at each scale, and never periodic."""
    out = np.zeros((height, width), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = base_cells * 2**o
        gh = max(2, int(round(cells * height / max(height, width)))) + 1
        gw = max(2, int(round(cells * width / max(height, width)))) + 1
        grid = rng.random((gh, gw), dtype=np.float32)
        out += amp * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= persistence
    out /= total
    lo, hi = np.percentile(out, [1, 99])
    return np.clip((out - lo) / max(hi - lo, 1e-6), 0.0, 1.0)


def _palette(rng: np.random.Generator, n: int, saturation: float = 0.6) -> np.ndarray:
    """n random colours around one random hue family; shape (n, 3), float in [0, 1]."""
    hue0 = rng.random()
    hues = (hue0 + rng.normal(0, 0.12, n)) % 1.0
    sats = np.clip(rng.normal(saturation, 0.15, n), 0.1, 1.0)
    vals = rng.uniform(0.3, 0.95, n)
    hsv = np.stack([hues * 180, sats * 255, vals * 255], -1).astype(np.uint8)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0].astype(np.float32) / 255.0


def _colour_field(rng: np.random.Generator, h: int, w: int, colours: np.ndarray, octaves: int) -> np.ndarray:
    """Blend a palette (k, 3) with noise weights: shape (h, w, 3) float."""
    t = fractal_noise(rng, h, w, octaves=octaves) * (len(colours) - 1)
    i0 = np.clip(np.floor(t).astype(int), 0, len(colours) - 2)
    f = (t - i0)[..., None]
    return colours[i0] * (1 - f) + colours[i0 + 1] * f


def _scatter_shapes(rng: np.random.Generator, img: np.ndarray, count: int, min_size: int, max_size: int) -> None:
    """Draw random ellipses, strokes and polygons in place (img float (H, W, 3) in [0, 1]):
    corners and blobs at many scales for the feature detector. Each shape is blended only
    inside its own bounding box, so thousands of shapes stay cheap."""
    h, w = img.shape[:2]
    for _ in range(count):
        colour = tuple(float(c) for c in rng.random(3))
        kind = rng.integers(0, 3)
        cx, cy = float(rng.integers(0, w)), float(rng.integers(0, h))
        size = int(rng.integers(min_size, max_size + 1))
        alpha = float(rng.uniform(0.35, 0.9))
        if kind == 0:
            axes = (max(1, size), max(1, int(size * rng.uniform(0.3, 1.0))))
            angle = float(rng.uniform(0, 180))
            pts = cv2.ellipse2Poly((0, 0), axes, int(angle), 0, 360, 5).astype(np.float64) + (cx, cy)
            thickness = -1
        elif kind == 1:
            pts = np.cumsum(rng.normal(0, size, (int(rng.integers(2, 6)), 2)), 0) + (cx, cy)
            thickness = max(1, size // 6)
        else:
            n = int(rng.integers(3, 7))
            ang = np.sort(rng.uniform(0, 2 * np.pi, n))
            rad = size * rng.uniform(0.5, 1.0, n)
            pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], -1)
            thickness = -1
        pad = (thickness if thickness > 0 else 0) + 2
        x0 = int(max(0, np.floor(pts[:, 0].min()) - pad))
        x1 = int(min(w, np.ceil(pts[:, 0].max()) + pad + 1))
        y0 = int(max(0, np.floor(pts[:, 1].min()) - pad))
        y1 = int(min(h, np.ceil(pts[:, 1].max()) + pad + 1))
        if x1 <= x0 or y1 <= y0:
            continue
        roi = img[y0:y1, x0:x1]
        layer = roi.copy()
        local = np.round(pts - (x0, y0)).astype(np.int32)
        if kind == 1:
            cv2.polylines(layer, [local], False, colour, thickness, cv2.LINE_AA)
        else:
            cv2.fillPoly(layer, [local], colour, cv2.LINE_AA)
        roi[:] = roi * (1 - alpha) + layer * alpha


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def rich_texture(rng: np.random.Generator, height: int, width: int, shapes_per_mpix: int = 1500) -> np.ndarray:
    """A busy, non-repeating texture for floors and walls: noise colour field, fine grain
    and many random shapes at several scales. Shape (height, width, 3) uint8."""
    img = _colour_field(rng, height, width, _palette(rng, 5, 0.45), octaves=6)
    n = max(30, int(shapes_per_mpix * height * width / 1e6))
    s = max(height, width)
    _scatter_shapes(rng, img, n // 4, s // 60, s // 15)
    _scatter_shapes(rng, img, n, s // 300 + 1, s // 60 + 2)
    grain = fractal_noise(rng, height, width, octaves=3, base_cells=max(8, s // 8))
    img *= (0.8 + 0.4 * grain)[..., None]
    return _to_uint8(img)


def wood_texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Wood-like table top: warped growth rings along x, knots and fibres, plus a few stains
    and scratches so that it has features everywhere. Shape (height, width, 3) uint8."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    warp = fractal_noise(rng, height, width, octaves=5, base_cells=3)
    ring_freq = rng.uniform(12, 22)
    rings = np.sin((y / height + 0.06 * warp) * ring_freq * 2 * np.pi + 0.8 * fractal_noise(rng, height, width, 4, 2))
    fibre = fractal_noise(rng, height, width, octaves=4, base_cells=64)
    t = 0.5 + 0.3 * rings + 0.2 * (fibre - 0.5)
    light = np.array(_palette(rng, 1, 0.55)[0] * 0 + [0.78, 0.58, 0.38]) * rng.uniform(0.85, 1.1)
    dark = light * rng.uniform(0.45, 0.6)
    img = dark + (light - dark) * np.clip(t, 0, 1)[..., None]
    # Knots: darker elliptical swirls.
    for _ in range(int(rng.integers(3, 8))):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.01, 0.04) * width
        d = np.sqrt(((x - cx) / 2.5) ** 2 + (y - cy) ** 2) / r
        img *= (1 - 0.35 * np.exp(-(d**2)) * (0.6 + 0.4 * np.sin(d * 6)))[..., None]
    img = np.clip(img, 0, 1).astype(np.float32)
    _scatter_shapes(rng, img, int(height * width / 4000), 2, max(4, width // 80))
    return _to_uint8(img)


def object_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """Object skin: a base colour with noise, blotches and sometimes stripes or a label
    band, so that each object has features. Shape (size, size, 3) uint8."""
    img = _colour_field(rng, size, size, _palette(rng, 4, 0.7), octaves=5)
    style = rng.integers(0, 3)
    if style == 0:  # stripes along v (around a lathe object's height)
        v = np.linspace(0, 1, size, dtype=np.float32)[:, None]
        freq = rng.uniform(4, 12)
        stripe = (np.sin(v * freq * 2 * np.pi + rng.uniform(0, 6)) > 0.3).astype(np.float32)
        col = _palette(rng, 1, 0.8)[0]
        img = img * (1 - 0.6 * stripe[..., None]) + col * 0.6 * stripe[..., None]
    elif style == 1:  # a label band with pseudo text
        lo, hi = sorted(rng.uniform(0.25, 0.75, 2))
        band = slice(int(lo * size), int(max(hi, lo + 0.15) * size))
        img[band] = img[band] * 0.2 + 0.8 * _palette(rng, 1, 0.3)[0]
    img = img.astype(np.float32)
    _scatter_shapes(rng, img, size // 4, size // 60 + 1, size // 10)
    _scatter_shapes(rng, img, size // 2, 1, size // 40 + 2)
    return _to_uint8(img)


def plain_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A low-texture skin: one colour with faint low-frequency shading (about 3 % of the
    value), the way a plain plastic or painted object looks. Shape (size, size, 3) uint8."""
    colour = _palette(rng, 1, 0.5)[0]
    shade = 1.0 + 0.03 * (fractal_noise(rng, size, size, octaves=2) * 2 - 1)
    return _to_uint8(colour[None, None, :] * shade[..., None].astype(np.float32))


def write_png(path: Path, image: np.ndarray) -> None:
    """Write an RGB uint8 (H, W, 3) image as PNG. Light compression: these files are
    large and written once; the bytes are still deterministic."""
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise OSError(f"could not encode {path}")
    Path(path).write_bytes(buf.tobytes())
