"""The physics stage: per object material, mass, inertia, friction and restitution, each
with a range, a source (vlm / clip / prior / user) and a confidence -> physics/physics.json.

Estimators are tried in the configured order per object (default vlm -> clip -> prior);
every step down is recorded with ``ctx.fallback``. Mass is reconciled with density x the
measured material volume (shell-aware, see reconcile.py). When poses found no metric
scale, object sizes (VLM answers, else label priors) set it and physics.json says so.
"""

from __future__ import annotations

import base64
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from splat2sim.errors import InputError, StageError
from splat2sim.stages.base import StageContext
from splat2sim.stages.physics import overrides as OV
from splat2sim.stages.physics import priors as P
from splat2sim.stages.physics import reconcile as R

SCHEMA_VERSION = 1
PROMPT_DIR = Path(__file__).resolve().parents[2] / "assets" / "prompts"
FRICTION_KEYS = ("static_friction", "dynamic_friction", "rolling_friction")
CONFIDENCE = {"prior_matched": 0.25, "prior_default": 0.1, "user": 1.0}


@dataclass
class Estimate:
    source: str  # vlm | clip | prior
    material: str
    fill: str  # solid | shell | bulk
    thickness: dict | None
    density: dict  # {value, range, source}
    mass: dict | None  # a direct mass estimate {value, range}
    surface: dict  # static/dynamic/rolling friction, restitution: {value, range, source}
    size_m: list[float] | None
    confidence: float
    label: str | None = None
    notes: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- inputs
def _read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise InputError(f"{what} {path} is missing", hint=f"re-run the {path.parent.name} stage")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} {path} is not valid JSON: {exc}", hint=f"re-run the {path.parent.name} stage") from exc


def load_prompt(name: str) -> tuple[str, str]:
    path = PROMPT_DIR / f"{name}.txt"
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in PROMPT_DIR.glob("*.txt")))
        raise InputError(f"prompt '{name}' does not exist in {PROMPT_DIR}", hint=f"physics.prompt: one of {available}")
    text = path.read_text()
    return text.replace("{materials}", ", ".join(P.materials())), text


def _object_geometry(mesh_dir: Path, entry: dict) -> R.Geometry:
    import trimesh

    path = mesh_dir / entry["visual"]
    if not path.is_file():
        raise InputError(f"mesh of {entry['id']} ({path}) is missing", hint="re-run the mesh stage")
    mesh = trimesh.load(path, process=False, force="mesh")
    if len(mesh.faces) == 0:
        raise InputError(f"mesh of {entry['id']} ({path}) has no faces", hint="re-run the mesh stage")
    watertight = bool(entry.get("watertight"))
    volume = entry.get("volume") if watertight else None
    if not watertight:  # seams of texture coordinates split vertices: merge by position and look again
        mesh.merge_vertices(merge_tex=True, merge_norm=True)
        watertight = bool(mesh.is_watertight)
    return R.geometry_from_mesh(mesh.vertices, mesh.faces, watertight=watertight, volume=volume)


# ----------------------------------------------------------------------------- crops
def _surface_in_world(geom: R.Geometry, mesh_entry: dict, count: int = 800) -> np.ndarray:
    """Surface samples [count,3] of an object's visual mesh in the world frame."""
    from splat2sim.geometry.metrics import sample_surface

    t = np.asarray(mesh_entry["world_from_object"], float)
    try:
        local = sample_surface(geom.vertices, geom.faces, count)
    except ValueError:  # no area: its vertices will do
        local = geom.vertices
    return local @ t[:3, :3].T + t[:3, 3]


def _corners(lo, hi) -> np.ndarray:
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def visible_fraction(own: np.ndarray, others: np.ndarray, world_from_camera, k: dict) -> float:
    """Fraction of an object's surface samples ``own`` [M,3] (world) that no other object's
    samples ``others`` [Q,3] hide in a camera (OpenCV axes, intrinsics ``k``).

    A coarse depth buffer of the other objects, on cells a 24th of the object's projected
    size (the samples are sparse: each also covers its neighbouring cells), is compared with
    the object's depths; hidden means more than 2 % nearer than the object's sample."""
    cam = np.linalg.inv(np.asarray(world_from_camera, float))

    def project(x):
        pc = x @ cam[:3, :3].T + cam[:3, 3]
        z = pc[:, 2]
        ok = z > 1e-3
        return np.stack([pc[ok, 0] / z[ok] * k["fx"] + k["cx"], pc[ok, 1] / z[ok] * k["fy"] + k["cy"]], 1), z[ok]

    uv, z = project(own)
    if not len(uv):
        return 0.0
    if not len(others):
        return 1.0
    lo, hi = uv.min(0), uv.max(0)
    cell = max(float((hi - lo).max()) / 24.0, 1.0)
    shape = (np.floor((hi - lo) / cell).astype(int) + 3)[::-1]  # rows (v), cols (u) with a border
    ouv, oz = project(others)
    zbuf = np.full(shape, np.inf)
    ij = np.floor((ouv - lo) / cell).astype(int) + 1
    inside = (ij[:, 0] >= 0) & (ij[:, 0] < shape[1]) & (ij[:, 1] >= 0) & (ij[:, 1] < shape[0])
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            r, c = ij[inside, 1] + di, ij[inside, 0] + dj
            ok = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
            np.minimum.at(zbuf, (r[ok], c[ok]), oz[inside][ok])
    mine = np.floor((uv - lo) / cell).astype(int) + 1
    hidden = zbuf[mine[:, 1], mine[:, 0]] < 0.98 * z
    return float(1.0 - hidden.mean())


def object_crops(frames_dir: Path, cameras: dict, bbox_min, bbox_max, views: int, size: int, *,
                 own: np.ndarray | None = None, others: np.ndarray | None = None,
                 min_visible: float = 0.8) -> tuple[list[np.ndarray], list[bytes], list[str], list[float]]:
    """RGB crops [h,w,3] of the object's projected bounding box from up to ``views`` frames
    spread over the capture, their JPEG bytes (what the VLM sees), the frame files and the
    visible fraction of the object in each.

    With the object's surface samples ``own`` [M,3] and the other objects' ``others``
    [Q,3], views where other objects hide more than ``1 - min_visible`` of it are used only
    when too few views show it clearly (the least hidden first): a crop of the object behind
    another shows the wrong thing to the VLM and to CLIP."""
    import cv2

    intr = cameras.get("cameras") or [cameras["intrinsics"]]
    corners = _corners(bbox_min, bbox_max)
    candidates = []
    for index, frame in enumerate(cameras["frames"]):
        if not frame.get("registered", True) or frame.get("world_from_camera") is None:
            continue
        k = intr[frame.get("camera", 0)]
        cam = np.linalg.inv(np.asarray(frame["world_from_camera"], float))
        pc = corners @ cam[:3, :3].T + cam[:3, 3]
        if np.any(pc[:, 2] < 0.01):
            continue
        u = pc[:, 0] / pc[:, 2] * k["fx"] + k["cx"]
        v = pc[:, 1] / pc[:, 2] * k["fy"] + k["cy"]
        x0, x1, y0, y1 = u.min(), u.max(), v.min(), v.max()
        area = (x1 - x0) * (y1 - y0)
        cx0, cx1, cy0, cy1 = max(x0, 0), min(x1, k["width"]), max(y0, 0), min(y1, k["height"])
        inside = max(cx1 - cx0, 0) * max(cy1 - cy0, 0) / max(area, 1e-9)
        if inside < 0.85 or min(x1 - x0, y1 - y0) < 12:
            continue
        seen = 1.0 if own is None else visible_fraction(own, others if others is not None else np.zeros((0, 3)),
                                                           frame["world_from_camera"], k)  # fmt: skip
        candidates.append((index, frame["file"], (x0, y0, x1, y1), k, seen))
    if not candidates:
        return [], [], [], []
    clear = [c for c in candidates if c[4] >= min_visible]
    if len(clear) < min(views, len(candidates)):  # too few clear views: add the least hidden others
        rest = sorted((c for c in candidates if c[4] < min_visible), key=lambda c: -c[4])
        clear = sorted(clear + rest[: min(views, len(candidates)) - len(clear)], key=lambda c: c[0])
    picks = np.unique(np.linspace(0, len(clear) - 1, min(views, len(clear))).round().astype(int))
    crops, jpegs, files, visible = [], [], [], []
    for p in picks:
        _, file, (x0, y0, x1, y1), k, seen = clear[p]
        visible.append(round(seen, 3))
        bgr = cv2.imread(str(frames_dir / file))
        if bgr is None:
            raise InputError(f"keyframe {frames_dir / file} cannot be read", hint="re-run the frames stage")
        h, w = bgr.shape[:2]
        sx, sy = w / k["width"], h / k["height"]
        pad = 0.12 * max(x1 - x0, y1 - y0)
        a0, a1 = int(max(math.floor((x0 - pad) * sx), 0)), int(min(math.ceil((x1 + pad) * sx), w))
        b0, b1 = int(max(math.floor((y0 - pad) * sy), 0)), int(min(math.ceil((y1 + pad) * sy), h))
        crop = bgr[b0:b1, a0:a1]
        scale = size / max(crop.shape[:2])
        if abs(scale - 1) > 1e-3:
            crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                              interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)  # fmt: skip
        ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise StageError("JPEG encoding of a crop failed")
        jpegs.append(buf.tobytes())
        crops.append(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
        files.append(file)
    return crops, jpegs, files, visible


# ----------------------------------------------------------------------------- estimators
def _table_surface(material: str, source: str) -> dict:
    props = P.material_properties(material)
    return {k: {"value": props[k]["value"], "range": list(props[k]["range"]), "source": source} for k in (*FRICTION_KEYS, "restitution")}


def _thickness(value: float | None) -> dict | None:
    if not value:
        return None
    return {"value": float(value), "range": [0.6 * value, 1.6 * value]}


def prior_estimate(label: str | None, source: str = "prior", material: str | None = None) -> Estimate:
    prior = P.label_prior(label)
    mat = material or prior.material
    if prior.fill == "bulk" and prior.bulk_density:
        density = dict(prior.bulk_density)
        dens_source = "prior"
    else:
        density = {k: P.material_properties(mat)["density"][k] for k in ("value", "range")}
        dens_source = source
    thickness = prior.wall_thickness if prior.fill == "shell" else None
    conf = CONFIDENCE["prior_matched"] if prior.matched else CONFIDENCE["prior_default"]
    notes = [] if prior.matched else [f"label {label!r} matches no prior: a wide default prior is used"]
    return Estimate(source="prior", material=mat, fill=prior.fill, thickness=thickness, density={**density, "source": dens_source},
                    mass=None, surface=_table_surface(mat, "prior" if material is None else source), size_m=None,
                    confidence=conf, label=label, notes=notes, details={"label_prior": prior.matched or "default"})  # fmt: skip


def vlm_estimate(answer: dict, label: str | None, notes: list[str]) -> Estimate:
    prior = P.label_prior(answer.get("label") or label)
    material = answer["material"]
    if answer["hollow"]:
        fill, thickness = "shell", _thickness(answer["wall_thickness_m"])
    else:
        fill, thickness = "solid", None
    if answer.get("density_kg_m3"):
        density = {**answer["density_kg_m3"], "source": "vlm"}
    elif fill == "shell" or prior.fill != "bulk":
        density = {**{k: P.material_properties(material)["density"][k] for k in ("value", "range")}, "source": "prior"}
        notes.append("the VLM gave no density: the material table's is used")
    else:
        density = {**prior.bulk_density, "source": "prior"}
        notes.append("the VLM gave no density: the label prior's bulk density is used")
    table = _table_surface(material, "prior")
    surface = {}
    for key in (*FRICTION_KEYS, "restitution"):
        surface[key] = {**answer[key], "source": "vlm"} if answer.get(key) else table[key]
    return Estimate(source="vlm", material=material, fill=fill, thickness=thickness, density=density, mass=answer["mass_kg"],
                    surface=surface, size_m=answer.get("size_m"), confidence=answer["confidence"], label=answer.get("label") or label,
                    notes=notes)  # fmt: skip


class VLMEstimator:
    def __init__(self, ctx: StageContext, cache):
        from splat2sim.stages.physics.vlm import ChatClient

        cfg = ctx.config
        self.ctx = ctx
        key = os.environ.get(cfg.vlm_api_key_env) or None
        self.key_status = f"from ${cfg.vlm_api_key_env}" if key else f"none (${cfg.vlm_api_key_env} is not set)"
        self.client = ChatClient(cfg.vlm_url, cfg.vlm_model, key, cfg.vlm_timeout_s, cfg.vlm_retries, cfg.vlm_backoff_s,
                                 cfg.vlm_json_mode, cfg.vlm_max_tokens)  # fmt: skip
        self.system, _ = load_prompt(cfg.prompt)
        self.cache = cache
        self.disabled: str | None = None
        self.failures_in_a_row = 0
        self.log: list[dict] = []

    def messages(self, label, dims, volume_text, jpegs, metric: bool) -> list[dict]:
        unit = "m" if metric else "reconstruction units (the metric scale is unknown: give size_m from what the object is)"
        text = (
            f"Segmentation label (may be wrong): {label or 'unknown'}.\n"
            f"Measured dimensions along x, y, z (z is up): {dims[0]:.4g} x {dims[1]:.4g} x {dims[2]:.4g} {unit}.\n"
            f"{volume_text}\n{len(jpegs)} views of the object follow."
        )
        content = [{"type": "text", "text": text}]
        for jpeg in jpegs:
            content.append({"type": "image_url", "image_url": {"url": "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()}})
        return [{"role": "system", "content": self.system}, {"role": "user", "content": content}]

    def estimate(self, oid: str, label, dims, volume_text, jpegs, metric: bool) -> Estimate:
        from splat2sim.stages.physics.cache import request_key
        from splat2sim.stages.physics.vlm import InvalidAnswer, VLMError, extract_json, validate_answer

        if self.disabled:
            raise VLMError(self.disabled, retryable=False)
        messages = self.messages(label, dims, volume_text, jpegs, metric)
        key = request_key(self.client.payload(messages), self.ctx.config.prompt)

        def validate(content: str):
            return validate_answer(extract_json(content), list(dims))

        entry = self.cache.get(key)
        if entry is not None:
            try:
                answer, notes = validate(entry["content"])
                self.log.append({"object": oid, "cache": "hit", "key": key})
                est = vlm_estimate(answer, label, notes)
                est.details = {"cache": "hit", "key": key}
                return est
            except InvalidAnswer as exc:
                self.ctx.warn(f"{oid}: cached VLM answer {key[:12]} no longer validates ({exc}); asking again")
        try:
            content, (answer, notes), attempts = self.client.complete(messages, validate=validate)
        except VLMError as exc:
            self.log.append({"object": oid, "cache": "miss", "key": key, "attempts": exc.attempts, "error": exc.message})
            self.failures_in_a_row += 1
            if not exc.retryable:
                self.disabled = f"VLM disabled for the remaining objects: {exc.message}"
            elif self.failures_in_a_row >= 2:
                self.disabled = f"VLM disabled for the remaining objects after {self.failures_in_a_row} failed objects in a row"
            raise
        self.failures_in_a_row = 0
        self.cache.put(key, {"model": self.client.model, "prompt": self.ctx.config.prompt, "content": content, "object": oid})
        self.log.append({"object": oid, "cache": "miss", "key": key, "attempts": attempts})
        est = vlm_estimate(answer, label, notes)
        est.details = {"cache": "miss", "key": key, "attempts": len(attempts)}
        if len(attempts) > 1:
            self.ctx.warn(f"{oid}: the VLM needed {len(attempts)} attempts (" + ", ".join(a["outcome"] for a in attempts) + ")")
        return est


def clip_estimate(result, label: str | None) -> Estimate:
    est = prior_estimate(label, source="clip", material=result.material)
    est.source = "clip"
    est.confidence = round(min(0.6, 0.6 * result.probability), 3)
    est.details = {"clip_probability": round(result.probability, 4), "clip_top": sorted(result.probabilities.items(), key=lambda kv: -kv[1])[:3],
                   "label_prior": est.details.get("label_prior")}  # fmt: skip
    return est


# ----------------------------------------------------------------------------- scale
def scale_from_sizes(items: list[tuple[str, np.ndarray, Estimate]]) -> dict | None:
    """Metric scale = weighted log-mean over objects of real size / measured size."""
    logs, weights, per_object, sources = [], [], {}, set()
    for oid, extents, est in items:
        measured = np.sort(np.asarray(extents, float))[::-1]
        if measured[0] <= 0:
            continue
        if est.size_m:
            real = np.sort(np.asarray(est.size_m, float))[::-1]
            n = min(len(real), 3)
            ratio = float(np.median(real[:n] / np.maximum(measured[:n], 1e-12)))
            sigma = 0.15
            sources.add("vlm")
        else:
            prior = P.label_prior(est.label)
            ratio = prior.size["value"] / measured[0]
            sigma = R.log_sigma(prior.size["value"], *prior.size["range"])
            sources.add("prior")
        per_object[oid] = round(ratio, 6)
        logs.append(math.log(ratio))
        weights.append(1 / sigma**2)
    if not logs:
        return None
    w = np.asarray(weights)
    mu = float(np.sum(w * logs) / w.sum())
    spread = float(np.sqrt(np.sum(w * (np.asarray(logs) - mu) ** 2) / w.sum()))
    sigma = max(1 / math.sqrt(w.sum()), spread / math.sqrt(len(logs)), 0.02)
    return {"scale": math.exp(mu), "range": [math.exp(mu - 2 * sigma), math.exp(mu + 2 * sigma)], "log_sigma": sigma,
            "source": "+".join(sorted(sources)), "per_object": per_object,
            "note": "poses found no metric scale: lengths of this scene x scale = metres; masses and inertias here are for the scaled (metric) objects"}  # fmt: skip


# ----------------------------------------------------------------------------- the stage
def run(ctx: StageContext) -> None:
    cfg = ctx.config
    ws = ctx.workspace
    objects_doc = _read_json(ctx.upstream_dir("segment") / "objects.json", "segment objects")
    mesh_doc = _read_json(ctx.upstream_dir("mesh") / "mesh.json", "mesh index")
    cameras = _read_json(ctx.upstream_dir("poses") / "cameras.json", "camera poses")
    world = _read_json(ctx.upstream_dir("poses") / "world.json", "world frame")
    meshes = {m["id"]: m for m in mesh_doc.get("objects", [])}
    objects = [o for o in objects_doc.get("objects", []) if o["id"] in meshes]
    for o in objects_doc.get("objects", []):
        if o["id"] not in meshes:
            ctx.warn(f"{o['id']} ({o.get('label')}) has no mesh: skipped")
    table = P.material_table()
    user_raw = OV.parse(cfg.objects)
    if cfg.overrides_file:
        from_file = OV.read_file(cfg.overrides_file)
        user_raw = {**from_file, **{k: {**from_file.get(k, {}), **v} for k, v in user_raw.items()}}
    user, override_warnings = OV.resolve(user_raw, objects)
    for w in override_warnings:
        ctx.warn(w)
    metric = world.get("scale_source", "unknown") != "unknown"

    # geometry and crops
    geoms, crops = {}, {}
    with ctx.timed("geometry"):
        for o in objects:
            geoms[o["id"]] = g = _object_geometry(ctx.upstream_dir("mesh"), meshes[o["id"]])
            for note in g.notes:
                ctx.warn(f"{o['id']}: {note}")
    wants_images = any(e in cfg.estimators for e in ("vlm", "clip"))
    if wants_images:
        with ctx.timed("crops"):
            crop_dir = ctx.out_dir / "crops"
            crop_dir.mkdir()
            samples = {o["id"]: _surface_in_world(geoms[o["id"]], meshes[o["id"]]) for o in objects}
            crop_views = {}
            for o in objects:
                lo, hi = o.get("bbox_min"), o.get("bbox_max")
                if lo is None or hi is None:
                    m = meshes[o["id"]]
                    t = np.asarray(m["world_from_object"], float)[:3, 3]
                    lo, hi = (np.asarray(m["bounds"][0]) + t).tolist(), (np.asarray(m["bounds"][1]) + t).tolist()
                others = [samples[q["id"]] for q in objects if q["id"] != o["id"]]
                rgb, jpegs, files, visible = object_crops(
                    ctx.upstream_dir("frames"), cameras, lo, hi, cfg.views, cfg.crop_size,
                    own=samples[o["id"]], others=np.concatenate(others) if others else np.zeros((0, 3)),
                )  # fmt: skip
                crops[o["id"]] = (rgb, jpegs, files)
                crop_views[o["id"]] = [{"frame": f, "visible": v} for f, v in zip(files, visible)]
                for k, jpeg in enumerate(jpegs):
                    (crop_dir / f"{o['id']}_{k}.jpg").write_bytes(jpeg)
                if not jpegs:
                    ctx.warn(f"{o['id']}: no keyframe shows the whole object: image-based estimators skip it")
                elif min(visible) < 0.8:
                    ctx.warn(f"{o['id']}: other objects hide {1 - min(visible):.0%} of it in its most hidden crop "
                             f"(fewer clear views than physics.views={cfg.views})")
            ctx.metrics["crop_views"] = crop_views

    # estimators
    estimates: dict[str, Estimate] = {}
    vlm = clip_weights = None
    cache = None
    unavailable: dict[str, str] = {}
    if "vlm" in cfg.estimators:
        if not cfg.vlm_url:
            unavailable["vlm"] = "no VLM endpoint configured (physics.vlm_url)"
        else:
            from splat2sim.stages.physics.cache import AnswerCache

            shared = [Path(cfg.cache_dir).expanduser()] if cfg.cache_dir else []
            ws_cache = ws.root / ".cache" / "vlm"
            cache = AnswerCache([ctx.out_dir / "vlm_cache", ws_cache, ctx.upstream_dir("physics") / "vlm_cache", *shared],
                                [ctx.out_dir / "vlm_cache", ws_cache, *shared], enabled=cfg.cache)  # fmt: skip
            vlm = VLMEstimator(ctx, cache)
            ctx.backend = f"vlm:{cfg.vlm_model}"
    if "clip" in cfg.estimators:
        from splat2sim.stages.physics.clip_material import find_weights

        clip_weights = find_weights(cfg.clip_model, cfg.clip_weights)
        if clip_weights is None:
            unavailable["clip"] = f"no open-clip weights for {cfg.clip_model} (physics.clip_weights, or $SPLAT2SIM_MODELS/clip/{cfg.clip_model}.pt)"
        elif clip_weights == "random":
            ctx.warn("CLIP runs with random weights (physics.clip_weights=random): its materials are meaningless (testing only)")
    order = [e for e in cfg.estimators if e not in unavailable]
    for name, why in unavailable.items():
        after = [e for e in order if cfg.estimators.index(e) > cfg.estimators.index(name)] or ["prior"]
        ctx.fallback(f"{name} estimates", after[0], why)

    with ctx.timed("estimate"), ctx.progress("Estimating physical properties", total=len(objects)) as task:
        for o in objects:
            oid, label = o["id"], o.get("label")
            g = geoms[oid]
            dims = g.extents
            rgb, jpegs, _ = crops.get(oid, ([], [], []))
            est, tried = None, []
            for name in order:
                if name in ("vlm", "clip") and not jpegs:
                    tried.append((name, "no view shows the whole object"))
                    continue
                try:
                    if name == "vlm":
                        vol = f"Enclosed volume of its reconstructed surface: {g.volume * 1e6:.4g} cm^3 ({'watertight' if g.watertight else 'approximate'})." if metric else ""
                        est = vlm.estimate(oid, label, dims, vol, jpegs, metric)
                    elif name == "clip":
                        from splat2sim.stages.physics.clip_material import classify

                        est = clip_estimate(classify(rgb, cfg.clip_model, clip_weights, table), label)
                    else:
                        est = prior_estimate(label)
                    break
                except StageError as exc:
                    tried.append((name, exc.message))
            if est is None:
                est = prior_estimate(label)
            for name, why in tried:
                nxt = est.source
                ctx.fallback(f"{oid} {name} estimate", nxt, why)
            estimates[oid] = est
            task.advance(1)

    # metric scale from object sizes
    scale_info = None
    scale, scale_sigma = 1.0, 0.0
    if not metric:
        if cfg.scale_from_sizes == "auto":
            scale_info = scale_from_sizes([(o["id"], geoms[o["id"]].extents, estimates[o["id"]]) for o in objects])
        if scale_info:
            scale, scale_sigma = scale_info["scale"], scale_info["log_sigma"]
            ctx.warn(f"no metric scale from poses: scale {scale:.4g} taken from object sizes ({scale_info['source']}); masses carry its uncertainty (x{math.exp(3 * 2 * scale_sigma):.2f} on the range)")
        else:
            ctx.warn("no metric scale from poses and none taken from sizes: masses and inertias are in reconstruction units, not physical")

    out_objects = []
    for o in objects:
        oid = o["id"]
        est = estimates[oid]
        g = geoms[oid].scaled(scale) if scale != 1.0 else geoms[oid]
        out_objects.append(_finish(ctx, o, est, g, user.get(oid, {}), 3 * scale_sigma))

    doc = {
        "schema_version": SCHEMA_VERSION,
        "objects": out_objects,
        "scale_from_sizes": scale_info,
        "estimators": {"order": list(cfg.estimators), "unavailable": unavailable,
                       "vlm": None if vlm is None else {"model": cfg.vlm_model, "prompt": cfg.prompt, "api_key": vlm.key_status,
                                                        "requests": vlm.client.requests_sent, "cache_hits": cache.hits, "cache_misses": cache.misses},
                       "clip": None if clip_weights is None else {"model": cfg.clip_model, "weights": "random" if clip_weights == "random" else Path(clip_weights).name}},
        "material_table": {"version": table.get("version"), "sources": table.get("sources")},
    }  # fmt: skip
    _check(doc)
    (ctx.out_dir / "physics.json").write_text(json.dumps(doc, indent=2) + "\n")
    if vlm is not None:
        (ctx.out_dir / "vlm_log.json").write_text(json.dumps({"schema_version": 1, "requests": vlm.log}, indent=2) + "\n")
    sources = {}
    for obj in out_objects:
        sources[obj["source"]] = sources.get(obj["source"], 0) + 1
    ctx.metrics.update({"objects": len(out_objects), "sources": sources, "scale_from_sizes": None if scale_info is None else round(scale, 6),
                        "total_mass_kg": round(sum(x["mass"]["value"] for x in out_objects), 6)})  # fmt: skip
    if vlm is not None:
        ctx.metrics.update({"vlm_requests": vlm.client.requests_sent, "vlm_cache_hits": cache.hits, "vlm_cache_misses": cache.misses})
    for obj in out_objects:
        m = obj["mass"]
        ctx.summary.append((f"{obj['id']} {obj['label'] or ''}".strip(),
                            f"{obj['material']}, {m['value']:.3g} kg [{m['range'][0]:.3g}, {m['range'][1]:.3g}] ({obj['source']}, conf {obj['confidence']:.2f})"))  # fmt: skip


def _q(d: dict, source: str, confidence: float) -> dict:
    return {"value": float(d["value"]), "range": [float(min(d["range"][0], d["value"])), float(max(d["range"][1], d["value"]))],
            "source": d.get("source", source), "confidence": round(float(confidence), 3)}  # fmt: skip


def _finish(ctx: StageContext, o: dict, est: Estimate, g: R.Geometry, user: dict, extra_sigma: float) -> dict:
    oid = o["id"]
    notes = list(est.notes)
    material, fill, thickness = est.material, est.fill, est.thickness
    density = dict(est.density)
    surface = {k: dict(v) for k, v in est.surface.items()}
    if "material" in user:
        material = user["material"]
        table_props = _table_surface(material, "user")
        for k in surface:
            surface[k] = {**table_props[k], "source": "user"}
        if fill != "bulk":
            density = {**{k: P.material_properties(material)["density"][k] for k in ("value", "range")}, "source": "user"}
        notes.append(f"material set by the user ({material}): friction, restitution{' and density' if fill != 'bulk' else ''} from the table")
    if "hollow" in user:
        fill = "shell" if user["hollow"] else ("solid" if fill == "shell" else fill)
        if fill == "shell" and thickness is None:
            thickness = P.label_prior(o.get("label")).wall_thickness or {"value": 0.004, "range": [0.002, 0.008]}
    if "wall_thickness" in user:
        t = user["wall_thickness"]
        thickness, fill = {"value": t, "range": [t, t]}, "shell"
    if "density" in user:
        density = {**user["density"], "source": "user"}
    estimate = est.mass
    mass_source, confidence = est.source, est.confidence
    if "density" in user:
        estimate, mass_source, confidence = None, "user", CONFIDENCE["user"]
    rec = R.reconcile_mass(g, fill, density, thickness, estimate, extra_sigma=extra_sigma)
    notes += rec.notes
    mass, dens = rec.mass, rec.density
    if estimate is not None and rec.agreement is not None:
        confidence *= math.exp(-abs(math.log(rec.agreement)) / 2)  # disagreement lowers confidence
    if "mass" in user:
        mass = dict(user["mass"])
        mass_source, confidence = "user", CONFIDENCE["user"]
        eff = mass["value"] / rec.material.volume
        dens = R.quantity(eff, mass["range"][0] / rec.material.high, mass["range"][1] / max(rec.material.low, 1e-12))
        if "density" in user and abs(math.log(eff / user["density"]["value"])) > math.log(1.2):
            notes.append(f"user mass and density disagree: mass / volume = {eff:.4g} kg/m^3, given {user['density']['value']:.4g}")
    dens_source = "user" if ("mass" in user or "density" in user) else density.get("source", est.source)
    for key in (*FRICTION_KEYS, "restitution"):
        if key in user:
            surface[key] = {**user[key], "source": "user"}
    st, dy = surface["static_friction"], surface["dynamic_friction"]
    if dy["value"] > st["value"]:
        notes.append(f"dynamic friction {dy['value']:g} > static {st['value']:g}: dynamic set to static")
        dy["value"] = st["value"]
        dy["range"] = [min(dy["range"][0], st["value"]), max(min(dy["range"][1], st["range"][1]), st["value"])]
    t_value = thickness["value"] if thickness else None
    com, inertia, method, inertia_notes = R.inertial(g, rec.material.mode, mass["value"], t_value)
    notes += inertia_notes
    if "center_of_mass" in user:
        com = np.asarray(user["center_of_mass"], float)
        notes.append("centre of mass set by the user; inertia stays about the mesh's centre of mass")
    for note in notes:
        if "disagree" in note or "unphysical" in note:
            ctx.warn(f"{oid}: {note}")
    user_any = bool(set(user) & {"mass", "density", "material"})
    source = "user" if user_any and ("mass" in user or "density" in user) else est.source
    surf_conf = {"vlm": est.confidence, "clip": est.confidence, "prior": CONFIDENCE["prior_matched"], "user": 1.0}
    return {
        "id": oid,
        "label": est.label if est.source == "vlm" and not o.get("label") else o.get("label"),
        "vlm_label": est.label if est.source == "vlm" else None,
        "material": material,
        "hollow": rec.material.mode in ("shell", "walls_in_mesh") or fill == "shell",
        "wall_thickness": t_value if fill == "shell" else None,
        "fill": fill,
        "mass_model": rec.material.mode,
        "density": _q({**dens, "source": dens_source}, est.source, 1.0 if dens_source == "user" else confidence),
        "mass": _q({**mass, "source": mass_source}, mass_source, confidence),
        "center_of_mass": [float(x) for x in com],
        "inertia": [[float(x) for x in row] for row in inertia],
        "inertia_method": method,
        "friction": {
            "static": _q(surface["static_friction"], est.source, surf_conf.get(surface["static_friction"]["source"], 0.25)),
            "dynamic": _q(surface["dynamic_friction"], est.source, surf_conf.get(surface["dynamic_friction"]["source"], 0.25)),
            "rolling": _q(surface["rolling_friction"], est.source, surf_conf.get(surface["rolling_friction"]["source"], 0.25)),
        },
        "restitution": _q(surface["restitution"], est.source, surf_conf.get(surface["restitution"]["source"], 0.25)),
        "source": source,
        "confidence": round(float(confidence), 3),
        "measured": {"extents": [float(x) for x in g.extents], "volume": float(g.volume), "area": float(g.area),
                     "wall_area": float(g.wall_area), "material_volume": float(rec.material.volume), "watertight": g.watertight,
                     "density_x_volume_kg": rec.geometric},  # fmt: skip
        "estimator": {"used": est.source, **est.details},
        "notes": notes,
    }


def _check(doc: dict) -> None:
    """Every field for every object; ranges contain their values; physical inertia."""
    from splat2sim.geometry.inertia import check_inertia

    for obj in doc["objects"]:
        quantities = [("density", obj["density"]), ("mass", obj["mass"]), ("restitution", obj["restitution"])]
        quantities += [(f"friction.{k}", v) for k, v in obj["friction"].items()]
        for name, q in quantities:
            lo, hi = q["range"]
            if not (all(math.isfinite(x) for x in (q["value"], lo, hi)) and lo <= q["value"] <= hi):
                raise StageError(f"physics of {obj['id']}: {name} {q['value']} is outside its range [{lo}, {hi}] (a bug)")
            if q["source"] not in ("vlm", "clip", "prior", "user"):
                raise StageError(f"physics of {obj['id']}: {name} has source {q['source']!r} (a bug)")
        if obj["mass"]["value"] <= 0:
            raise StageError(f"physics of {obj['id']}: mass {obj['mass']['value']} is not positive")
        problems = check_inertia(np.asarray(obj["inertia"]), obj["mass"]["value"], rtol=1e-4)
        if problems:
            raise StageError(f"physics of {obj['id']}: inertia is unphysical: {'; '.join(problems)}")
