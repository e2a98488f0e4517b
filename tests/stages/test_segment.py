"""The segment stage on oracle workspaces of synthetic captures (ground truth known)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _workspace(root: Path, seed: int, kinds: list[str], touching: bool) -> Path:
    from splat2sim.synth import SynthConfig, generate_capture
    from splat2sim.synth.oracle import oracle_workspace

    cap = root / f"cap{seed}"
    generate_capture(cap, SynthConfig(seed=seed, width=320, height=240, duration_s=2, object_kinds=kinds, touching=touching))
    return oracle_workspace(cap, root / f"ws{seed}")


@pytest.fixture(scope="session")
def apart_ws(tmp_path_factory) -> Path:
    return _workspace(tmp_path_factory.mktemp("seg_apart"), 0, ["mug", "box", "can"], False)


@pytest.fixture(scope="session")
def touching_ws(tmp_path_factory) -> Path:
    return _workspace(tmp_path_factory.mktemp("seg_touch"), 1, ["box", "can", "bowl"], True)


def run_segment(ws: Path, *overrides: str) -> tuple[dict, np.ndarray, dict]:
    from splat2sim import api

    api.build(None, ws, until="segment", overrides=list(overrides), force=["segment"])
    doc = json.loads((ws / "segment" / "objects.json").read_text())
    record = json.loads((ws / "segment" / "_stage.json").read_text())
    return doc, np.load(ws / "segment" / "gaussian_labels.npy"), record


def match_iou(labels: np.ndarray, owner: np.ndarray) -> dict[int, float]:
    """Ground-truth object -> IoU with the label that covers most of it."""
    out = {}
    for g in range(int(owner.max()) + 1):
        truth = owner == g
        ids, counts = np.unique(labels[truth], return_counts=True)
        k = ids[counts.argmax()]
        out[g] = 0.0 if k < 0 else float((truth & (labels == k)).sum() / (truth | (labels == k)).sum())
    return out


def test_geometric_objects_apart(apart_ws):
    doc, labels, record = run_segment(apart_ws, "segment.method=geometric", "segment.labels=none")
    owner = np.load(apart_ws / "_imports" / "owner.npy")
    assert labels.dtype == np.int32 and labels.shape == owner.shape
    assert doc["schema_version"] == 1 and doc["method"] == "geometric" and doc["label_source"] == "none"
    assert len(doc["objects"]) == 3
    ious = match_iou(labels, owner)
    assert min(ious.values()) >= 0.85, ious
    # one label per ground-truth object, no object holds two
    assert len({int(np.bincount(labels[owner == g][labels[owner == g] >= 0]).argmax()) for g in range(3)}) == 3
    # background (table) Gaussians are not objects
    assert ((owner == -1) & (labels >= 0)).sum() < 0.02 * (owner == -1).sum()
    assert doc["background_gaussians"] == int((labels < 0).sum())
    counts = [o["gaussians"] for o in doc["objects"]]
    assert counts == sorted(counts, reverse=True)
    for k, o in enumerate(doc["objects"]):
        assert o["id"] == f"obj_{k:03d}" and o["index"] == k and o["label"] == f"object_{k}"
        assert o["support"] == "table" and o["gaussians"] == int((labels == k).sum())
        assert all(a <= b for a, b in zip(o["bbox_min"], o["bbox_max"]))
        # the 2-98 % extent: inside the box of every centre, and not a sliver of it
        assert all(0.5 * (b - a) < r <= b - a for r, a, b in zip(o["extent_robust"], o["bbox_min"], o["bbox_max"])), o
        # solid objects cover their own pixels in the views (segment.solidity): no "seen through" doubt
        assert o["solidity"] > 0.9 and o["confidence"] == 1.0, o
    assert record["metrics"]["objects"] == 3


def test_fallbacks_are_recorded_without_weights(apart_ws, tmp_path, monkeypatch):
    monkeypatch.setenv("SPLAT2SIM_MODELS", str(tmp_path / "empty"))
    doc, _, record = run_segment(apart_ws, "segment.method=auto", "segment.labels=auto")
    assert doc["method"] == "geometric" and doc["label_source"] == "none"
    whats = [f["what"] for f in record["fallbacks"]]
    assert any("segment-anything" in w for w in whats) and any("open-clip" in w for w in whats)
    assert all(str(tmp_path / "empty") in f["why"] for f in record["fallbacks"])


def test_touching_objects_merge_is_recorded(touching_ws):
    doc, labels, _ = run_segment(touching_ws, "segment.method=geometric", "segment.labels=none")
    owner = np.load(touching_ws / "_imports" / "owner.npy")
    gt = int(owner.max()) + 1
    if len(doc["objects"]) < gt:  # merged: must be said
        assert any(o["merged"] for o in doc["objects"])
    else:
        assert min(match_iou(labels, owner).values()) >= 0.85
    assert ((owner == -1) & (labels >= 0)).sum() < 0.02 * (owner == -1).sum()


def _views_and_gaussians(ws: Path, count: int):
    from splat2sim.io.gaussians_ply import read_gaussians_ply
    from splat2sim.stages.segment.run import torch_gaussians
    from splat2sim.stages.segment.views import load_views, spread

    views = load_views(ws / "frames", ws / "poses", 320)
    return views.subset(spread(count, views.num)), torch_gaussians(read_gaussians_ply(ws / "splat" / "gaussians.ply"))


def test_lifting_ground_truth_masks_splits_touching(touching_ws):
    """Masks correct by construction (rendered ground-truth ids) lift to the right Gaussians,
    and reconciling them with a merged geometric cluster splits the touching objects."""
    from splat2sim.stages.segment.lifting import label_images, lift_masks
    from splat2sim.stages.segment.sam import reconcile

    owner = np.load(touching_ws / "_imports" / "owner.npy")
    views, g = _views_and_gaussians(touching_ws, 5)
    cams = views.cameras()
    gt_images = label_images(g, cams, owner)
    masks = [np.stack([img == k for k in range(int(owner.max()) + 1) if (img == k).sum() > 20]) for img in gt_images]
    lifted = lift_masks(g, cams, masks)
    assert len(lifted.groups) == int(owner.max()) + 1  # associated across views: one group per object
    for k in range(int(owner.max()) + 1):
        truth = owner == k
        seen = lifted.labels >= 0
        ids, counts = np.unique(lifted.labels[truth & seen], return_counts=True)
        lab = ids[counts.argmax()]
        pred = lifted.labels == lab
        # every Gaussian the vote gives this instance is the object's
        assert (pred & truth).sum() / pred.sum() > 0.97
        assert (pred & truth).sum() / truth.sum() > 0.5  # visible part (bottoms are never seen)
    # the geometric method merged them (or not): force one merged cluster and let SAM split it
    merged = np.where(owner >= 0, 0, -1).astype(np.int32)
    refined = reconcile(merged, lifted.labels, g.means.numpy(), [{"notes": [], "merged": True}])
    assert len(refined.clusters) == int(owner.max()) + 1 and refined.info["split_clusters"] == 1
    # unseen surfaces (bottoms, faces turned away from the 5 views) are filled by propagation
    assert min(match_iou(refined.labels, owner).values()) >= 0.8


def _small_sam():
    import sys

    import torch

    from splat2sim.models import require

    require("segment_anything", "test")
    build = sys.modules["segment_anything.build_sam"]
    torch.manual_seed(0)
    return build._build_sam(encoder_embed_dim=64, encoder_depth=2, encoder_num_heads=2, encoder_global_attn_indexes=[1]).eval()


def test_sam_path_runs_end_to_end_with_a_small_random_sam(apart_ws):
    """Real segment-anything classes (a small randomly initialised model): prompts, predictor,
    lifting and reconciliation run; the masks are garbage, so only structure is checked."""
    from splat2sim.config import Config
    from splat2sim.io.gaussians_ply import read_gaussians_ply
    from splat2sim.stages.segment import geometric as G
    from splat2sim.stages.segment.run import scene_size
    from splat2sim.stages.segment.sam import refine_with_sam
    from splat2sim.stages.segment.views import frustum_counts, load_views

    cfg = Config.defaults().section("segment")
    cfg.sam_views = 2
    data = read_gaussians_ply(apart_ws / "splat" / "gaussians.ply")
    views = load_views(apart_ws / "frames", apart_ws / "poses", 160)
    means = data["means"].astype(np.float64)
    geo = G.segment_geometric(means, data["log_scales"], data["opacity_logits"], frustum_counts(means, views, 0.01), scene_size(views), cfg)
    _, g = _views_and_gaussians(apart_ws, 2)
    refined = refine_with_sam(_small_sam(), g, views, geo.labels, geo, cfg)
    assert refined.labels.shape == geo.labels.shape and refined.labels.dtype == np.int32
    assert refined.info["masks"] >= 1 and len(refined.info["views"]) == 2
    assert set(np.unique(refined.labels)) <= set(range(-1, len(refined.clusters)))
    # SAM never makes an object out of what geometry called support or floater
    assert (refined.labels[geo.labels < 0] == -1).all()


def test_clip_labels_with_random_open_clip(apart_ws):
    from splat2sim.config import Config
    from splat2sim.stages.segment.clip_labels import aggregate, encode_images, label_objects, load_clip, masked_crop

    cfg = Config.defaults().section("segment")
    cfg.visibility_views, cfg.clip_views = 3, 2
    bundle = load_clip("ViT-B-32", None)
    views, g = _views_and_gaussians(apart_ws, 3)
    owner = np.load(apart_ws / "_imports" / "owner.npy")
    vocab = ["mug", "box", "can", "bowl"]
    result = label_objects(bundle, g, views, owner, 3, vocab, cfg)
    assert all(label in vocab for label in result.labels)
    assert all(0 < s <= 1 for s in result.scores)
    # a known pairing: a "text" embedding equal to an object's image embedding wins for it
    img = views.image(0)
    mask = np.zeros(img.shape[:2], bool)
    mask[60:140, 100:200] = True
    feats = encode_images(bundle, [masked_crop(img, mask)])
    rng = np.random.default_rng(0)
    text = rng.normal(size=(5, feats.shape[1]))
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    text[3] = feats[0]
    best, score, mean = aggregate(feats, text, 100.0)
    assert best == 3 and score > 0.99 and abs(mean.sum() - 1) < 1e-9


def test_clusters_beyond_the_support_edge_are_not_objects():
    """A wall crossing the support's height beyond the table edge goes on below the support;
    an object on the table has the support layer around it."""
    import numpy as np

    from splat2sim.stages.segment.geometric import support_around

    rng = np.random.default_rng(0)
    table = np.c_[rng.uniform(-0.5, 0.5, (4000, 2)), rng.normal(0, 0.002, 4000)]
    wall = np.c_[np.full(3000, 0.9), rng.uniform(-0.5, 0.5, 3000), rng.uniform(-0.8, 0.3, 3000)]
    wall[:, 0] += rng.normal(0, 0.003, 3000)
    means = np.concatenate([table, wall])
    mug_xy = rng.uniform(-0.04, 0.04, (300, 2))
    support, below = support_around(mug_xy, means, margin=0.01, cell=0.02)
    assert support > 20 and below == 0
    wall_piece = wall[(wall[:, 2] > 0.02) & (wall[:, 2] < 0.1), :2]
    support, below = support_around(wall_piece, means, margin=0.01, cell=0.02)
    assert below > support


def test_an_object_lying_flat_is_found_only_when_asked(tmp_path):
    """segment.flat_objects (opt-in) through the stage: a box's oracle workspace whose splat
    gets a table layer blurred 5 mm in height (as a CPU-trained splat's; the oracle's is
    exact) and a plate: the layer's Gaussians within 8 cm of a point on the table raised 8 mm
    (below the height margin, ~2.5x the blur) and made white."""
    from splat2sim.io.gaussians_ply import read_gaussians_ply, write_gaussians_ply
    from splat2sim.render.conventions import SH_C0

    ws = _workspace(tmp_path, 5, ["box"], False)
    splat = read_gaussians_ply(ws / "_imports" / "gaussians.ply")
    owner = np.load(ws / "_imports" / "owner.npy")
    gt = json.loads((tmp_path / "cap5" / "ground_truth.json").read_text())
    rng = np.random.default_rng(0)
    means, sh = splat["means"].copy(), splat["sh"].copy()
    table = (owner == -1) & (np.abs(means[:, 2]) < 0.01)
    means[table, 2] += rng.normal(0, 0.005, table.sum()).astype(means.dtype)
    box = np.asarray(gt["objects"][0]["position"][:2])
    centre = box + 0.22 * (-box / max(np.linalg.norm(box), 1e-6) if np.linalg.norm(box) > 0.05 else np.array([1.0, 0.0]))
    plate = table & (np.linalg.norm(means[:, :2] - centre, axis=1) < 0.08)
    means[plate, 2] += 0.008
    sh[plate, 0, :] = (np.array([0.92, 0.92, 0.9]) - 0.5) / SH_C0
    path = tmp_path / "with_plate.ply"
    write_gaussians_ply(path, means, splat["log_scales"], splat["quats"], splat["opacity_logits"], sh)
    base = ["segment.method=geometric", "segment.labels=none", f"splat.import_ply={path}", "splat.import_frame=sfm"]

    from splat2sim import api

    api.build(None, ws, until="splat", overrides=base, force=["splat"])
    doc, labels, record = run_segment(ws, *base)
    assert len(doc["objects"]) == 1 and not doc["objects"][0]["lying_flat"]  # the box; the plate is below the margin
    assert "flat" not in record["metrics"]
    doc, labels, record = run_segment(ws, *base, "segment.flat_objects=true")
    flat = [o for o in doc["objects"] if o["lying_flat"]]
    assert len(doc["objects"]) == 2 and len(flat) == 1, record["metrics"].get("flat")
    members = labels == flat[0]["index"]
    assert (members & plate).sum() / members.sum() > 0.8  # its Gaussians are the plate's ...
    assert (members & plate).sum() / plate.sum() > 0.4  # ... and a good share of them (those above the support's median)
    assert flat[0]["notes"][0].startswith("lying flat:") and record["metrics"]["flat"]["found"] == 1
