"""Upstream stages made from ground truth, for tests of export / check / variants / report
(and anyone else who needs a complete workspace before segment, mesh, collision and physics
exist or while they are slow).

    ws = oracle_workspace(capture_dir, tmp / "ws")          # frames, poses, splat (real)
    register_gt_stages(monkeypatch)                         # test StageSpecs in 4 slots
    api.build(None, ws, until="physics", overrides=gt_overrides(capture_dir))

The test stages write the files of docs/ARTIFACTS.md: segment (objects.json and
gaussian_labels.npy from the oracle splat's owners), mesh (the synthetic capture's object
meshes moved into the object frame, with texture), collision (a trimesh convex hull per
object, or CoACD with fast settings) and physics (ground-truth mass, centre of mass and
inertia, friction/restitution with ranges). ``label_style="nasty"`` gives labels with
spaces, quotes, ``<``, ``/`` and ``..``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splat2sim.stages import SIMULATION_STAGES, STAGES, StageSpec

NASTY_LABELS = ['coffee mug "large"', "<can>/../../etc", "..", "box & co's </robot>", "a/b\\c", "bowl\n2"]


@dataclass
class GTConfig:
    capture_dir: str = ""
    label_style: str = "gt"  # gt | nasty
    hulls: str = "convex_hull"  # convex_hull | coacd
    friction: float = 0.6
    restitution: float = 0.1
    bad_inertia: str = ""  # an object id whose physics inertia is made invalid
    scale: float = 0.0  # > 0: scale.json claims poses had no metric scale and sizes gave this one


def _gt(ctx) -> tuple[Path, dict, np.ndarray]:
    from splat2sim.synth.oracle import gt_to_world

    capture = Path(ctx.config.capture_dir)
    gt = json.loads((capture / "ground_truth.json").read_text())
    return capture, gt, gt_to_world(ctx.workspace.root)


def _world_mesh(capture: Path, obj: dict, sim_from_gt: np.ndarray):
    import trimesh

    mesh = trimesh.load(capture / obj["mesh_file"], process=False, force="mesh")
    mesh.apply_transform(sim_from_gt @ np.asarray(obj["world_from_object"], np.float64))
    return mesh


def _label(ctx, k: int, obj: dict) -> str:
    if ctx.config.label_style == "nasty":
        return NASTY_LABELS[k % len(NASTY_LABELS)]
    return obj["kind"]


def run_segment(ctx) -> None:
    capture, gt, sim = _gt(ctx)
    owner = np.load(ctx.workspace.root / "_imports" / "owner.npy").astype(np.int32)
    np.save(ctx.out_dir / "gaussian_labels.npy", owner)
    objects = []
    for k, obj in enumerate(gt["objects"]):
        v = np.asarray(_world_mesh(capture, obj, sim).vertices)
        objects.append(
            {
                "id": f"obj_{k:03d}",
                "index": k,
                "label": _label(ctx, k, obj),
                "label_score": 1.0,
                "gaussians": int((owner == k).sum()),
                "centroid": v.mean(0).tolist(),
                "bbox_min": v.min(0).tolist(),
                "bbox_max": v.max(0).tolist(),
                "support": "table",
                "merged": False,
                "notes": ["ground truth (test fixture)"],
            }
        )
    (ctx.out_dir / "objects.json").write_text(
        json.dumps(
            {
                "schema_version": 1,
                "method": "geometric",
                "label_source": "none",
                "support_plane": {"normal": [0, 0, 1], "offset": 0.0},
                "objects": objects,
                "background_gaussians": int((owner < 0).sum()),
                "removed_floaters": 0,
            },
            indent=2,
        )
    )


def run_scale(ctx) -> None:
    """scale.json: metric poses (scale 1), or the claimed scale ``scale`` from object sizes."""
    from splat2sim.artifacts import scale

    s = ctx.config.scale
    doc = (
        scale.Scale(scale=s, source="sizes:prior", poses_metric=False, range=[0.8 * s, 1.25 * s], log_sigma=0.11)
        if s > 0
        else scale.Scale(scale=1.0, source="imported_metric", poses_metric=True, range=[1.0, 1.0], log_sigma=0.0)
    )
    scale.SCALE.write(ctx.out_dir, doc)


def run_mesh(ctx) -> None:
    from splat2sim.geometry.inertia import mass_properties

    capture, gt, sim = _gt(ctx)
    metric = ctx.metric_frame()
    records = []
    for k, obj in enumerate(gt["objects"]):
        oid = f"obj_{k:03d}"
        mesh = _world_mesh(capture, obj, sim)
        mesh.apply_scale(metric.scale)
        lo, hi = mesh.bounds
        origin = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])
        mesh.apply_translation(-origin)
        folder = ctx.out_dir / "objects" / oid
        folder.mkdir(parents=True)
        texture = capture / (obj.get("texture_file") or "")
        uv = getattr(mesh.visual, "uv", None)
        _write_obj(
            folder / "visual.obj",
            mesh.vertices,
            mesh.faces,
            uv if texture.is_file() else None,
            "visual.mtl" if texture.is_file() and uv is not None else None,
        )
        if texture.is_file() and uv is not None:
            shutil.copy(texture, folder / "visual.png")
            (folder / "visual.mtl").write_text("newmtl material0\nKd 1 1 1\nmap_Kd visual.png\n")
        props = mass_properties(mesh.vertices, mesh.faces, 1.0)
        T = np.eye(4)
        T[:3, 3] = origin
        records.append(
            {
                "id": oid,
                "label": _label(ctx, k, obj),
                "visual": f"objects/{oid}/visual.obj",
                "world_from_object": T.tolist(),
                "watertight": bool(mesh.is_watertight),
                "volume": props.volume,
                "area": float(mesh.area),
                "vertices": len(mesh.vertices),
                "faces": len(mesh.faces),
                "bounds": (mesh.bounds).tolist(),
                "center_of_mass": props.center_of_mass.tolist(),
                "inertia_unit_density": props.inertia.tolist(),
            }
        )
    sx, sy = np.asarray(gt["table"]["size"]) * metric.scale
    (ctx.out_dir / "mesh.json").write_text(
        json.dumps(
            {
                "schema_version": 1,
                "support_plane": {"normal": [0, 0, 1], "offset": 0.0, "size": [sx, sy], "center": [0, 0, 0]},
                "objects": records,
                "background": None,
            },
            indent=2,
        )
    )


def _write_obj(path: Path, vertices, faces, uv=None, mtl: str | None = None) -> None:
    lines = [f"mtllib {mtl}", "usemtl material0"] if mtl else []
    lines += [f"v {x:.7f} {y:.7f} {z:.7f}" for x, y, z in np.asarray(vertices)]
    if uv is not None:
        lines += [f"vt {u:.6f} {v:.6f}" for u, v in np.asarray(uv)[:, :2]]
        lines += [f"f {a + 1}/{a + 1} {b + 1}/{b + 1} {c + 1}/{c + 1}" for a, b, c in np.asarray(faces)]
    else:
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in np.asarray(faces)]
    path.write_text("\n".join(lines) + "\n")


def run_collision(ctx) -> None:
    import trimesh

    mesh_json = json.loads((ctx.upstream_dir("mesh") / "mesh.json").read_text())
    out = []
    for rec in mesh_json["objects"]:
        mesh = trimesh.load(ctx.upstream_dir("mesh") / rec["visual"], process=False, force="mesh")
        if ctx.config.hulls == "coacd":
            import coacd

            parts = coacd.run_coacd(
                coacd.Mesh(mesh.vertices, mesh.faces),
                threshold=0.1,
                max_convex_hull=8,
                preprocess_mode="off",
                mcts_iterations=30,
                mcts_max_depth=2,
                seed=0,
            )
            hulls = [trimesh.Trimesh(v, f, process=False).convex_hull for v, f in parts]
            method = "coacd"
        else:
            hulls = [mesh.convex_hull]
            method = "convex_hull"
        folder = ctx.out_dir / "objects" / rec["id"]
        folder.mkdir(parents=True)
        entries = []
        for k, hull in enumerate(hulls):
            _write_obj(folder / f"hull_{k:03d}.obj", hull.vertices, hull.faces)
            entries.append({"file": f"objects/{rec['id']}/hull_{k:03d}.obj", "vertices": len(hull.vertices), "volume": float(hull.volume)})
        hv = sum(e["volume"] for e in entries)
        out.append(
            {
                "id": rec["id"],
                "hulls": entries,
                "hull_count": len(entries),
                "hull_volume": hv,
                "mesh_volume": rec["volume"],
                "hull_to_mesh_volume": hv / rec["volume"],
                "method": method,
                "settings": {"hulls": ctx.config.hulls},
                "seconds": 0.0,
                "warnings": [],
            }
        )
    (ctx.out_dir / "collision.json").write_text(json.dumps({"schema_version": 1, "preset": "mujoco", "objects": out}, indent=2))


def run_physics(ctx) -> None:
    capture, gt, sim = _gt(ctx)
    mesh_json = json.loads((ctx.upstream_dir("mesh") / "mesh.json").read_text())
    metric = ctx.metric_frame()
    R_sim = sim[:3, :3] / np.cbrt(np.linalg.det(sim[:3, :3]))
    out = []
    for k, (obj, rec) in enumerate(zip(gt["objects"], mesh_json["objects"])):
        W = sim @ np.asarray(obj["world_from_object"], np.float64)
        R = R_sim @ np.asarray(obj["world_from_object"], np.float64)[:3, :3]
        com_world = metric.points(W[:3, :3] @ np.asarray(obj["center_of_mass"]) + W[:3, 3])
        com = com_world - np.asarray(rec["world_from_object"])[:3, 3]
        inertia = R @ np.asarray(obj["inertia"]) @ R.T * metric.scale**2  # the same mass, lengths x scale
        if ctx.config.bad_inertia == rec["id"]:
            inertia = np.diag([1e-6, 1e-6, 1.0])  # breaks the triangle inequality
            ctx.warn(f"{rec['id']}: inertia made invalid on purpose (test)")
        m = float(obj["mass"])
        mu, e = ctx.config.friction, ctx.config.restitution
        out.append(
            {
                "id": rec["id"],
                "label": rec["label"],
                "material": "ground truth",
                "hollow": False,
                "wall_thickness": None,
                "density": {"value": m / obj["volume"], "range": [0.8 * m / obj["volume"], 1.2 * m / obj["volume"]]},
                "mass": {"value": m, "range": [0.8 * m, 1.2 * m]},
                "center_of_mass": com.tolist(),
                "inertia": inertia.tolist(),
                "friction": {
                    "static": {"value": mu, "range": [mu - 0.2, mu + 0.2]},
                    "dynamic": {"value": mu - 0.1, "range": [mu - 0.3, mu + 0.1]},
                    "rolling": {"value": 0.001, "range": [0.0, 0.003]},
                },
                "restitution": {"value": e, "range": [0.0, 2 * e + 0.05]},
                "source": "user",
                "confidence": 1.0,
                "notes": ["ground truth (test fixture)"],
            }
        )
    (ctx.out_dir / "physics.json").write_text(json.dumps({"schema_version": 1, "objects": out}, indent=2))


SPECS = {
    "segment": StageSpec("segment", 1, "ground-truth segmentation (test)", ("splat",), GTConfig, "tests.stages.export_fixtures:run_segment"),
    "scale": StageSpec("scale", 1, "ground-truth scale (test)", ("segment",), GTConfig, "tests.stages.export_fixtures:run_scale"),
    "mesh": StageSpec("mesh", 1, "ground-truth meshes (test)", ("segment", "scale"), GTConfig, "tests.stages.export_fixtures:run_mesh"),
    "collision": StageSpec("collision", 1, "convex hulls (test)", ("mesh",), GTConfig, "tests.stages.export_fixtures:run_collision"),
    "physics": StageSpec("physics", 1, "ground-truth physics (test)", ("mesh", "scale"), GTConfig, "tests.stages.export_fixtures:run_physics"),
}


def register_gt_stages(monkeypatch) -> None:
    """Put the ground-truth test stages in the segment/scale/mesh/collision/physics slots (and the
    simulation stages, registered only once their real upstream stages exist)."""
    for name, spec in {**SPECS, **SIMULATION_STAGES}.items():
        monkeypatch.setitem(STAGES, name, spec)


def gt_overrides(capture_dir, **settings) -> list[str]:
    """--set overrides pointing every ground-truth stage at the capture (and other settings)."""
    out = []
    for stage in SPECS:
        out.append(f"{stage}.capture_dir={Path(capture_dir).resolve()}")
        for key, value in settings.items():
            out.append(f"{stage}.{key}={value}")
    return out


# ----------------------------------------------------------------------------- shared workspaces
EXAMPLE_CAPTURE = Path(__file__).resolve().parents[2] / "examples" / "tabletop"
_BASE: dict[str, Path] = {}


def base_workspace(tmp_path_factory, capture_dir: Path = EXAMPLE_CAPTURE) -> Path:
    """frames, poses and splat of the bundled capture, built once per test session."""
    key = str(capture_dir)
    if key not in _BASE:
        from splat2sim.synth.oracle import oracle_workspace

        _BASE[key] = oracle_workspace(capture_dir, tmp_path_factory.mktemp("export_base") / "ws")
    return _BASE[key]


def clone_workspace(base: Path, dst: Path) -> Path:
    """A copy of a workspace (its imports stay where they are: fingerprints still match)."""
    import yaml

    shutil.copytree(base, dst, symlinks=True, ignore=shutil.ignore_patterns(".lock"))
    # the stored config may hold sections of real segment/mesh/collision/physics stages
    path = dst / "config.yaml"
    if path.is_file():
        data = yaml.safe_load(path.read_text()) or {}
        for name in SPECS:
            data.pop(name, None)
        path.write_text(yaml.safe_dump(data))
    return dst


def gt_workspace(tmp_path_factory, name: str, until: str = "export", capture_dir: Path = EXAMPLE_CAPTURE, **settings) -> Path:
    """A clone of the base workspace built with the ground-truth stages up to ``until``."""
    import pytest

    from splat2sim import api

    ws = clone_workspace(base_workspace(tmp_path_factory, capture_dir), tmp_path_factory.mktemp(name) / "ws")
    with pytest.MonkeyPatch.context() as mp:
        register_gt_stages(mp)
        api.build(None, ws, until=until, overrides=gt_overrides(capture_dir, **settings))
    return ws
