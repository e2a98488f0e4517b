"""A built workspace against its synthetic capture's ground truth: which objects were found,
how well they overlap the true ones, how big they came out, and how right the scale is.

The workspace's world frame is fixed by poses (gravity, origin, scale from a marker or not);
the ground truth has its own. The two are related by the similarity that takes the true
camera centres of the keyframes onto the reconstructed ones (Umeyama), so nothing here
trusts the pipeline's own scale: the true metres per world unit is 1 / that similarity's
scale, and the metric frame the pipeline chose (``scale/scale.json``) is judged against it.

Objects are judged on the support: the camera similarity is corrected by the small rotation
and lift that put the true table top on the workspace's z = 0 (``support_alignment``). A
reconstruction with a focal length 1 % off keeps its camera path but moves the whole scene
along the views (at 320x240 with 20 keyframes the table came out a median 7-9 mm off and
0.7-0.8 degrees tilted against the camera-registered truth, up to 15 mm and 1.3 degrees,
with the pipeline's plane on its own table points), which a simulator never sees: it places
objects on the support. That
misfit is reported per scene (``support_vs_cameras``), and each found object's IoU in the
camera-registered frame beside it (``iou_camera_frame``).

    from splat2sim.synth.evaluate import evaluate_workspace
    report = evaluate_workspace(capture_dir, workspace)   # plain dict, JSON-ready
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

MATCH_IOU = 0.25  # a prediction is a find when its 3D IoU with a true object is at least this
#: A prediction holds a true object when at least this share of the true solid is inside it;
#: one that holds two or more is a merge (whatever its IoU with each).
HOLDS_SHARE = 0.3


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(s, R, t) minimising |dst - (s R src + t)|^2 over [N, 3] point pairs."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    U, D, Vt = np.linalg.svd(cov)
    S = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        S[2, 2] = -1
    R = U @ S @ Vt
    s = float(np.trace(np.diag(D) @ S) / a.var(0).sum())
    return s, R, mu_d - s * R @ mu_s


def world_from_truth(capture_dir: Path, workspace: Path) -> tuple[np.ndarray, float]:
    """4x4 similarity from ground-truth coordinates to the workspace's world frame, and the
    RMS of the camera-centre fit in world units."""
    gt = json.loads((capture_dir / "ground_truth.json").read_text())
    frames = {f["file"]: f["source_index"] for f in json.loads((workspace / "frames" / "frames.json").read_text())["frames"]}
    cams = json.loads((workspace / "poses" / "cameras.json").read_text())["frames"]
    src, dst = [], []
    for f in cams:
        if f.get("registered") and f.get("world_from_camera") is not None:
            src.append(np.asarray(gt["frames"][frames[f["file"]]]["world_from_camera"])[:3, 3])
            dst.append(np.asarray(f["world_from_camera"])[:3, 3])
    src, dst = np.asarray(src), np.asarray(dst)
    s, R, t = umeyama(src, dst)
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = s * R, t
    rms = float(np.sqrt(np.mean(np.sum((src @ (s * R).T + t - dst) ** 2, axis=1))))
    return T, rms


def support_alignment(world_T: np.ndarray, gt: dict) -> tuple[np.ndarray, dict]:
    """4x4 rigid correction (world units) that takes the true table top, as the camera
    similarity ``world_T`` places it, onto the workspace's z = 0: the smallest rotation of
    its normal onto +z about the point under the true objects' centre, then a lift. Also
    the tilt (degrees) and height (world units) of that table top before the correction."""
    normal = world_T[:3, :3] @ np.array([0.0, 0.0, 1.0])
    normal /= np.linalg.norm(normal)
    under = np.mean([np.asarray(o["world_from_object"], np.float64)[:3, 3] for o in gt["objects"]], axis=0) if gt["objects"] else np.zeros(3)
    under[2] = float(gt.get("table", {}).get("top_height", 0.0))
    pivot = world_T[:3, :3] @ under + world_T[:3, 3]
    axis = np.cross(normal, [0.0, 0.0, 1.0])
    sin, cos = float(np.linalg.norm(axis)), float(normal[2])
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    R = np.eye(3) + K + K @ K * ((1 - cos) / sin**2) if sin > 1e-12 else np.eye(3)
    C = np.eye(4)
    C[:3, :3], C[:3, 3] = R, pivot - R @ pivot - np.array([0.0, 0.0, pivot[2]])
    return C, {"tilt_deg": float(np.degrees(np.arctan2(sin, cos))), "height": float(pivot[2])}


def _true_meshes(capture_dir: Path, gt: dict, metric_from_truth: np.ndarray) -> list:
    import trimesh

    out = []
    for o in gt["objects"]:
        mesh = trimesh.load(capture_dir / o["mesh_file"], process=False, force="mesh")
        mesh.merge_vertices(merge_tex=True, merge_norm=True)
        mesh.apply_transform(metric_from_truth @ np.asarray(o["world_from_object"], np.float64))
        out.append(mesh)
    return out


def _predicted_meshes(workspace: Path) -> list[tuple[str, object]]:
    import trimesh

    index = workspace / "mesh" / "mesh.json"
    if not index.is_file():
        return []
    out = []
    for rec in json.loads(index.read_text())["objects"]:
        mesh = trimesh.load(workspace / "mesh" / rec["visual"], process=False, force="mesh")
        mesh.merge_vertices(merge_tex=True, merge_norm=True)
        mesh.apply_transform(np.asarray(rec["world_from_object"], np.float64))
        out.append((rec["id"], mesh))
    return out


ENCLOSING = np.array([[0, 0, -1], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]], np.float64)


def _inside(mesh, points: np.ndarray) -> np.ndarray:
    """Points of the object's solid as seen from outside: enclosed by its surface below and
    on all four sides. That is the inside of a closed mesh, plus the cavity of a cup or bowl
    (which a reconstruction from outside views fills, and which holds no air in a simulator's
    collision either), but not the hole of a mug's handle; it works for meshes with gaps."""
    inside = mesh.convex_hull.contains(points)
    for d in ENCLOSING:
        if not inside.any():
            break
        idx = np.flatnonzero(inside)
        hit = mesh.ray.intersects_any(points[idx], np.repeat(d[None], len(idx), 0))
        inside[idx[~hit]] = False
    return inside


def _camera_frame_iou(truth_on_support, camera_from_support: np.ndarray, pred) -> float:
    """A found object's IoU with its truth placed by the camera similarity alone (the truth
    judged on the support, moved back by ``camera_from_support``)."""
    truth = truth_on_support.copy()
    truth.apply_transform(camera_from_support)
    return solid_overlap(truth, pred)[0]


def solid_overlap(a, b, samples: int = 20000, seed: int = 0) -> tuple[float, float, float]:
    """(3D IoU, volume of a, volume of b) of two objects' solids (see ``_inside``), from
    uniform samples in their joint bounding box (so both volumes share one estimator)."""
    lo = np.minimum(a.bounds[0], b.bounds[0])
    hi = np.maximum(a.bounds[1], b.bounds[1])
    pts = np.random.default_rng(seed).uniform(lo, hi, (samples, 3))
    ia, ib = _inside(a, pts), _inside(b, pts)
    cell = float(np.prod(hi - lo)) / samples
    union = (ia | ib).sum()
    return (float((ia & ib).sum() / union) if union else 0.0), ia.sum() * cell, ib.sum() * cell


def _hull_coverage(workspace: Path, oid: str, world_from_object: np.ndarray, truth, samples: int = 8000) -> float | None:
    """Fraction of the true material (the watertight true mesh's inside: a cup's cavity, which
    hulls rightly leave open, does not count) inside the object's collision hulls."""
    import trimesh

    index = workspace / "collision" / "collision.json"
    if not index.is_file():
        return None
    entry = next((o for o in json.loads(index.read_text())["objects"] if o["id"] == oid), None)
    if not entry or not entry.get("hulls"):
        return None
    pts = np.random.default_rng(1).uniform(truth.bounds[0], truth.bounds[1], (samples, 3))
    pts = pts[truth.contains(pts) if truth.is_watertight else _inside(truth, pts)]
    if len(pts) == 0:
        return None
    local = pts - world_from_object[:3, 3]
    covered = np.zeros(len(pts), bool)
    for h in entry["hulls"]:
        hull = trimesh.load(workspace / "collision" / h["file"], process=False, force="mesh").convex_hull
        covered |= hull.contains(local)
    return float(covered.mean())


def _surface_scores(pred, truth) -> dict:
    """Chamfer (mm) and F-score at 10 mm between the predicted and true surfaces (the
    pipeline's metric frame, so with its scale: the scale error is reported apart)."""
    from splat2sim.geometry.metrics import surface_metrics

    m = surface_metrics((pred.vertices, pred.faces), (truth.vertices, truth.faces), threshold=0.01, count=10000)
    return {"chamfer_mm": round(1000 * m["chamfer"], 2), "fscore_10mm": round(m["fscore"], 4)}


def size_class(extents: np.ndarray) -> list[str]:
    """small (< 7 cm across), thin (< 2 cm in its thinnest direction), tall (> 15 cm high)."""
    out = []
    if extents.max() < 0.07:
        out.append("small")
    if extents.min() < 0.02:
        out.append("thin")
    if extents[2] > 0.15:
        out.append("tall")
    return out or ["regular"]


def evaluate_workspace(capture_dir: str | Path, workspace: str | Path) -> dict:
    """Objects found, their 3D IoU, volume ratio and hull coverage, and the scale's error."""
    from scipy.optimize import linear_sum_assignment

    capture_dir, workspace = Path(capture_dir), Path(workspace)
    gt = json.loads((capture_dir / "ground_truth.json").read_text())
    world_T, fit_rms = world_from_truth(capture_dir, workspace)
    true_m_per_unit = 1.0 / float(np.cbrt(np.linalg.det(world_T[:3, :3])))
    scale_doc = json.loads((workspace / "scale" / "scale.json").read_text()) if (workspace / "scale" / "scale.json").is_file() else None
    chosen = float(scale_doc["scale"]) if scale_doc else 1.0
    on_support, support_misfit = support_alignment(world_T, gt)
    metric = np.diag([chosen, chosen, chosen, 1.0])  # the pipeline's metric frame
    truths = _true_meshes(capture_dir, gt, metric @ on_support @ world_T)
    camera_from_support = metric @ np.linalg.inv(on_support) @ np.linalg.inv(metric)
    preds = _predicted_meshes(workspace)
    iou = np.zeros((len(truths), len(preds)))
    volumes = {}
    for i, t in enumerate(truths):
        for j, (_, p) in enumerate(preds):
            iou[i, j], *volumes[i, j] = solid_overlap(t, p)
    rows, cols = linear_sum_assignment(-iou) if iou.size else (np.zeros(0, int), np.zeros(0, int))
    matched = [(i, j) for i, j in zip(rows, cols) if iou[i, j] >= MATCH_IOU]
    objects = []
    pred_of = {i: j for i, j in matched}
    mesh_index = {r["id"]: r for r in json.loads((workspace / "mesh" / "mesh.json").read_text())["objects"]} if preds else {}
    for i, (o, t) in enumerate(zip(gt["objects"], truths)):
        # the true size in metres, whatever scale the pipeline chose: the frame holds truth x
        # (chosen / true metres per unit)
        true_extents = (t.bounds[1] - t.bounds[0]) * true_m_per_unit / chosen
        row = {"kind": o["kind"], "classes": size_class(true_extents), "extents_m": np.round(true_extents, 4).tolist(), "found": i in pred_of}
        if i in pred_of:
            oid, p = preds[pred_of[i]]
            row.update({"object": oid, "iou": round(float(iou[i, pred_of[i]]), 4),
                        # solids in the pipeline's frame: the geometry alone (the scale's error is reported apart)
                        "volume_ratio": round(float(volumes[i, pred_of[i]][1] / volumes[i, pred_of[i]][0]), 4),
                        "iou_camera_frame": round(_camera_frame_iou(t, camera_from_support, p), 4),
                        "hull_coverage": _hull_coverage(workspace, oid, np.asarray(mesh_index[oid]["world_from_object"]), t),
                        **_surface_scores(p, t)})  # fmt: skip
        objects.append(row)
    predictions = _predictions(workspace, preds, iou, volumes, gt)
    scale_error = chosen / true_m_per_unit - 1.0
    in_range = None
    if scale_doc and scale_doc.get("range"):
        lo, hi = scale_doc["range"]
        in_range = bool(lo <= true_m_per_unit <= hi)
    found = len(matched)
    return {
        "objects_true": len(truths),
        "objects_predicted": len(preds),
        "objects_matched": found,
        "recall": found / len(truths) if truths else 1.0,
        "precision": found / len(preds) if preds else (1.0 if not truths else 0.0),
        "mean_iou": float(np.mean([r["iou"] for r in objects if r["found"]])) if found else 0.0,
        "mean_iou_camera_frame": float(np.mean([r["iou_camera_frame"] for r in objects if r["found"]])) if found else 0.0,
        "scale": {
            "chosen": chosen,
            "true": true_m_per_unit,
            "error": scale_error,
            "range": scale_doc.get("range") if scale_doc else None,
            "range_contains_truth": in_range,
            "source": scale_doc.get("source") if scale_doc else None,
        },  # fmt: skip
        "camera_fit_rms": fit_rms,
        # the true table top as the camera similarity places it (see the module docstring), in metres
        "support_vs_cameras": {
            "tilt_deg": round(support_misfit["tilt_deg"], 3),
            "height_m": round(support_misfit["height"] * true_m_per_unit, 4),
        },  # fmt: skip
        "support_top": _support_top(workspace, gt, world_T, chosen),
        "objects": objects,
        "unmatched_predictions": [preds[j][0] for j in range(len(preds)) if j not in {jj for _, jj in matched}],
        "predictions": predictions,
    }


def _support_top(workspace: Path, gt: dict, world_T: np.ndarray, chosen: float) -> dict | None:
    """The exported support rectangle (mesh.json, metres) against the true table top, both
    seen from above in the workspace's world frame (the camera similarity places the truth;
    the mesh is divided by the chosen scale, so the scale's error does not count here)."""
    from splat2sim.geometry.rectangle import rectangle_iou

    path = workspace / "mesh" / "mesh.json"
    if not path.is_file() or "table" not in gt:
        return None
    plane = json.loads(path.read_text()).get("support_plane") or {}
    if not plane.get("size"):
        return None
    sx, sy = gt["table"]["size"]
    top = np.array([[-sx / 2, -sy / 2, 0, 1], [sx / 2, -sy / 2, 0, 1], [sx / 2, sy / 2, 0, 1], [-sx / 2, sy / 2, 0, 1]]) @ world_T.T
    ring = top[:, :2]
    (ax, ay), (bx, by) = ring[1] - ring[0], ring[2] - ring[1]
    if ax * by - ay * bx < 0:  # counter-clockwise seen from +z
        ring = ring[::-1]
    world_plane = {"center": np.asarray(plane["center"][:2]) / chosen, "size": np.asarray(plane["size"]) / chosen, "yaw": plane.get("yaw", 0.0)}
    return {k: round(float(v), 4) for k, v in rectangle_iou(world_plane, ring).items()}


def _predictions(workspace: Path, preds: list, iou: np.ndarray, volumes: dict, gt: dict) -> list[dict]:
    """Per predicted object: the true objects it holds (``HOLDS_SHARE`` of their solid
    inside it), whether that makes it a merge, whether segment flagged it ``merged`` or
    ``low_confidence``, and its ``solidity`` (one that holds nothing was invented)."""
    index = workspace / "segment" / "objects.json"
    seg = {o["id"]: o for o in json.loads(index.read_text())["objects"]} if index.is_file() else {}
    out = []
    for j, (oid, _) in enumerate(preds):
        holds = []
        for i in range(iou.shape[0]):
            true_volume, pred_volume = volumes[i, j]
            # |A and B| from the IoU and both volumes: I = IoU (|A| + |B|) / (1 + IoU)
            inter = iou[i, j] * (true_volume + pred_volume) / (1.0 + iou[i, j])
            if true_volume > 0 and inter / true_volume >= HOLDS_SHARE:
                holds.append(gt["objects"][i]["kind"])
        rec = seg.get(oid, {})
        out.append({"object": oid, "holds": holds, "merge": len(holds) >= 2, "flagged_merged": bool(rec.get("merged")) if rec else None,
                    "low_confidence": rec.get("low_confidence"), "solidity": rec.get("solidity")})  # fmt: skip
    return out
