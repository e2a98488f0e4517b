"""One metric world frame, end to end: a synthetic capture *without a marker* built through
the real stages from frames to export, poses and splat imported from the ground truth as
non-metric (``poses.import_metric=false``: the SfM-units case), so that segmentation, which is
measured elsewhere, finds the three objects and this test checks only the frames.

Poses have no metric scale, so the scale stage takes one from the objects' sizes; from then
on every artifact is metric. The check: each exported object's visual mesh, placed at its
scene.json pose and projected with the exported keyframe cameras (export/cameras.json),
lands on the object in the keyframes, measured as IoU with the silhouette of the ground-truth
mesh projected with the ground-truth camera. A projection is invariant to one uniform scale
of the whole world, so this passes only when cameras, meshes and poses share one frame and
one scale, whatever the scale's value; the hulls are checked against the meshes they bound.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

# slow: CoACD on the three reconstructed meshes takes most of its 2-8 minutes on 2 cores; it
# joins `make test` once collision skips decomposition for near-convex objects (issue #18).
pytestmark = pytest.mark.slow

# Light meshing and CoACD effort: silhouettes and frames need no fine detail.
BUILD_OVERRIDES = [
    "mesh.extra_views=8",
    "mesh.render_max_side=240",
    "mesh.face_budget=1500",
    "mesh.background=false",
    "collision.mcts_iterations=20",
    "collision.mcts_depth=2",
    "collision.resolution=1000",
    "collision.preprocess_mode='off'",
    "physics.views=2",
]


def _silhouette(vertices: np.ndarray, faces: np.ndarray, world_from_camera, k: dict) -> np.ndarray:
    """bool [H, W]: pixels covered by the mesh's projected triangles (OpenCV camera, pixel
    centres at +0.5 as in cameras.json), triangles behind the camera dropped."""
    import cv2

    cam = np.linalg.inv(np.asarray(world_from_camera, np.float64))
    pc = vertices @ cam[:3, :3].T + cam[:3, 3]
    mask = np.zeros((int(k["height"]), int(k["width"])), np.uint8)
    front = pc[:, 2] > 1e-3
    uv = np.stack([pc[:, 0] / np.where(front, pc[:, 2], 1) * k["fx"] + k["cx"] - 0.5,
                   pc[:, 1] / np.where(front, pc[:, 2], 1) * k["fy"] + k["cy"] - 0.5], 1)  # fmt: skip
    tris = faces[front[faces].all(1)]
    pts = np.round(uv[tris] * 4).astype(np.int32)  # 2 bits of sub-pixel precision
    for tri in pts:  # one at a time: fillPoly would XOR overlapping front and back faces
        cv2.fillConvexPoly(mask, tri, 1, lineType=cv2.LINE_8, shift=2)
    return mask.astype(bool)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from splat2sim import api
    from splat2sim.synth import SynthConfig, generate_capture
    from splat2sim.synth.oracle import oracle_workspace

    root = tmp_path_factory.mktemp("one_frame")
    generate_capture(root / "cap", SynthConfig(seed=0, width=320, height=240, duration_s=2, marker=False,
                                               object_kinds=["mug", "box", "can"]))  # fmt: skip
    ws = oracle_workspace(root / "cap", root / "ws", keyframes=16, overrides=("poses.import_metric=false",))
    api.build(None, ws, until="export", overrides=BUILD_OVERRIDES)
    return root / "cap", ws


def test_scale_comes_from_sizes_and_every_artifact_after_it_is_metric(built):
    _, ws = built
    world = json.loads((ws / "poses" / "world.json").read_text())
    scale = json.loads((ws / "scale" / "scale.json").read_text())
    assert world["scale_source"] == "unknown" and world["units"] == "unknown (SfM units)"
    assert scale["source"] == "prior:sizes+camera_distance" and not scale["poses_metric"] and scale["range"][0] < scale["scale"] < scale["range"][1]
    assert json.loads((ws / "mesh" / "mesh.json").read_text())["units"] == "metres"
    scene = json.loads((ws / "export" / "scene.json").read_text())
    assert scene["environment"]["metric_scale"]["scale"] == pytest.approx(scale["scale"])
    cams = json.loads((ws / "export" / "cameras.json").read_text())
    assert cams["units"] == "metres" and len(cams["frames"]) >= 12
    # the exported cameras are poses' cameras with the scale applied to their positions, nothing else
    poses = {f["file"]: np.asarray(f["world_from_camera"]) for f in json.loads((ws / "poses" / "cameras.json").read_text())["frames"]
             if f["registered"]}  # fmt: skip
    for f in cams["frames"]:
        w = np.asarray(f["world_from_camera"])
        np.testing.assert_allclose(w[:3, :3], poses[f["file"]][:3, :3], atol=1e-12)
        np.testing.assert_allclose(w[:3, 3], scale["scale"] * poses[f["file"]][:3, 3], rtol=1e-9, atol=1e-12)


def test_exported_meshes_project_onto_the_objects_with_the_exported_cameras(built):
    import trimesh

    cap, ws = built
    gt = json.loads((cap / "ground_truth.json").read_text())
    scene = json.loads((ws / "export" / "scene.json").read_text())
    cams = json.loads((ws / "export" / "cameras.json").read_text())
    source_index = {f["file"]: f["source_index"] for f in json.loads((ws / "frames" / "frames.json").read_text())["frames"]}
    intr = cams["cameras"] or [cams["intrinsics"]]
    gt_cam = {k: gt["camera"][k] for k in ("fx", "fy", "cx", "cy", "width", "height")}
    gt_cam["cx"] += 0.5  # ground truth has pixel centres at integers
    gt_cam["cy"] += 0.5
    bodies = []
    for b in scene["bodies"]:
        mesh = trimesh.load(ws / "export" / b["visual"], process=False, force="mesh")
        bodies.append((np.asarray(mesh.vertices) + np.asarray(b["pose"]["position"]), np.asarray(mesh.faces)))
    truth = []
    for o in gt["objects"]:
        mesh = trimesh.load(cap / o["mesh_file"], process=False, force="mesh")
        T = np.asarray(o["world_from_object"])
        truth.append((np.asarray(mesh.vertices) @ T[:3, :3].T + T[:3, 3], np.asarray(mesh.faces)))
    iou = np.zeros((len(truth), len(bodies)))
    frames = cams["frames"][:: max(1, len(cams["frames"]) // 6)]
    for f in frames:
        k = dict(intr[f["camera"]])
        assert (k["width"], k["height"]) == (gt_cam["width"], gt_cam["height"])
        gt_pose = gt["frames"][source_index[f["file"]]]["world_from_camera"]
        gt_masks = [_silhouette(v, fc, gt_pose, gt_cam) for v, fc in truth]
        masks = [_silhouette(v, fc, f["world_from_camera"], k) for v, fc in bodies]
        for i, g in enumerate(gt_masks):
            for j, m in enumerate(masks):
                union = (g | m).sum()
                iou[i, j] += (g & m).sum() / union / len(frames) if union else 0.0
    # every object found once, nothing else exported (these three stand apart on the table)
    assert len(bodies) == len(truth), (len(bodies), iou.round(2))
    best = iou.argmax(1)
    assert sorted(best) == list(range(len(bodies))), iou.round(2)
    # 0.7: the bar; silhouettes of a reconstructed mesh lose a little at thin parts
    # (the mug's handle) and gain a little where the splat blurs the outline
    assert iou.max(1).min() >= 0.7, iou.round(3)


def test_hulls_and_inertials_are_in_the_meshes_frame(built):
    import trimesh

    _, ws = built
    scene = json.loads((ws / "export" / "scene.json").read_text())
    for b in scene["bodies"]:
        visual = trimesh.load(ws / "export" / b["visual"], process=False, force="mesh")
        hulls = [trimesh.load(ws / "export" / h, process=False, force="mesh") for h in b["collision"]]
        lo, hi = visual.bounds
        size = float(np.max(hi - lo))
        for h in hulls:  # hulls bound the visual mesh in the same (metric, object) frame
            assert np.all(h.bounds[0] >= lo - 0.1 * size) and np.all(h.bounds[1] <= hi + 0.1 * size), (b["name"], h.bounds, visual.bounds)
        com = np.asarray(b["inertial"]["center_of_mass"])
        assert np.all(com >= lo - 1e-6) and np.all(com <= hi + 1e-6), (b["name"], com, visual.bounds)
        # masses of metric objects: a table-top object weighs grams to a few kilograms
        assert 0.005 < b["inertial"]["mass"] < 5.0, b
