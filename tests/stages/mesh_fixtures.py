"""Shared helpers for the mesh and collision tests: a segment stage from ground truth."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from splat2sim.stages import STAGES, StageSpec


@dataclass
class GtSegmentConfig:
    extra_tiny: int = 0  # also label this many table Gaussians as an extra object


def gt_segment(ctx):
    """A real segment/ folder from the oracle's ground-truth ownership (tests only)."""
    owner = np.load(ctx.workspace.root / "_imports" / "owner.npy")
    gt = json.loads((ctx.workspace.root / "_imports" / "gt_objects.json").read_text())
    from splat2sim.io.gaussians_ply import read_gaussians_ply

    means = read_gaussians_ply(ctx.upstream_dir("splat") / "gaussians.ply")["means"]
    labels = owner.astype(np.int32).copy()
    objects = []
    count = int(labels.max()) + 1
    if ctx.config.extra_tiny:
        table = np.flatnonzero(labels < 0)[: ctx.config.extra_tiny]
        labels[table] = count
        count += 1
    for k in range(count):
        m = means[labels == k]
        objects.append({"id": f"obj_{k:03d}", "index": k, "label": gt[k] if k < len(gt) else "speck", "label_score": 1.0,
                        "gaussians": int(len(m)), "centroid": m.mean(0).tolist(), "bbox_min": m.min(0).tolist(),
                        "bbox_max": m.max(0).tolist(), "support": "table", "merged": False, "notes": []})  # fmt: skip
    (ctx.out_dir / "objects.json").write_text(json.dumps({
        "schema_version": 1, "method": "geometric", "label_source": "none",
        "support_plane": {"normal": [0, 0, 1], "offset": 0.0}, "objects": objects,
        "background_gaussians": int((labels < 0).sum()), "removed_floaters": 0}))  # fmt: skip
    np.save(ctx.out_dir / "gaussian_labels.npy", labels)


def register_gt_segment(monkeypatch) -> None:
    spec = StageSpec(name="segment", version=1, description="ground-truth segmentation (test)", upstream=("splat",),
                     config_cls=GtSegmentConfig, runner="tests.stages.mesh_fixtures:gt_segment")  # fmt: skip
    monkeypatch.setitem(STAGES, "segment", spec)


def oracle_with_gt(capture_dir, ws):
    from splat2sim.synth.oracle import oracle_workspace

    oracle_workspace(capture_dir, ws)
    gt = json.loads((capture_dir / "ground_truth.json").read_text())
    (ws / "_imports" / "gt_objects.json").write_text(json.dumps([o["kind"] for o in gt["objects"]]))
    return ws


def gt_meshes_world(capture_dir, ws) -> list:
    """Ground-truth meshes (trimesh) in the workspace's world frame, in object order."""
    import trimesh

    from splat2sim.synth.oracle import gt_to_world

    gt = json.loads((capture_dir / "ground_truth.json").read_text())
    M = gt_to_world(ws)
    out = []
    for o in gt["objects"]:
        mesh = trimesh.load(capture_dir / o["mesh_file"], process=False, force="mesh")
        mesh.apply_transform(M @ np.asarray(o["world_from_object"]))
        out.append(mesh)
    return out


def mesh_quality(ws, capture_dir) -> list[dict]:
    """Per object: Chamfer, F@5mm and the GT bbox diagonal (mesh.json in the object frame)."""
    import trimesh

    from splat2sim.geometry.metrics import surface_metrics

    record = json.loads((ws / "mesh" / "mesh.json").read_text())
    out = []
    for obj, truth in zip(record["objects"], gt_meshes_world(capture_dir, ws)):
        mesh = trimesh.load(ws / "mesh" / obj["visual"], process=False, force="mesh")
        mesh.apply_transform(np.asarray(obj["world_from_object"]))
        m = surface_metrics((mesh.vertices, mesh.faces), (truth.vertices, truth.faces), threshold=0.005)
        out.append({"id": obj["id"], "label": obj["label"], "diagonal": float(np.linalg.norm(truth.extents)),
                    "chamfer": m["chamfer"], "chamfer_over_diagonal": m["chamfer"] / float(np.linalg.norm(truth.extents)),
                    "fscore_5mm": m["fscore"], "precision": m["precision"], "recall": m["recall"],
                    "watertight": bool(mesh.is_watertight), "volume": obj["volume"], "true_volume": float(truth.volume),
                    "faces": obj["faces"]})  # fmt: skip
    return out
