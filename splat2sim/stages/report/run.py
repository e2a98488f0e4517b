"""The report stage: report/index.html with pictures (photo, splat render, MuJoCo render of
the settled scene and its collision hulls from the same keyframe cameras), the objects
table, the check results and repairs, and every stage's timings, warnings and fallbacks.
Images are files beside index.html; nothing is fetched from the network."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from splat2sim.artifacts import check as check_artifacts
from splat2sim.artifacts import export as export_artifacts
from splat2sim.stages.base import StageContext
from splat2sim.workspace import layout


def _cameras(ctx: StageContext, count: int) -> list[dict]:
    """Keyframe cameras in the exported scene's metric frame (export/cameras.json)."""
    cams = ctx.read(export_artifacts.CAMERAS)
    intr = cams.cameras or [cams.intrinsics]
    frames = cams.frames
    picks = np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int) if frames else []
    out = []
    for i in picks:
        f = frames[int(i)]
        k = intr[f.get("camera", 0)]
        out.append(
            {
                "file": f["file"],
                "world_from_camera": f["world_from_camera"],
                "fx": k["fx"],
                "fy": k["fy"],
                "cx": k["cx"],
                "cy": k["cy"],
                "width": k["width"],
                "height": k["height"],
            }
        )
    return out


def _scaled(cam: dict, max_side: int) -> dict:
    s = min(1.0, max_side / max(cam["width"], cam["height"]))
    w, h = int(round(cam["width"] * s)) // 2 * 2, int(round(cam["height"] * s)) // 2 * 2
    return {
        **cam,
        "fx": cam["fx"] * w / cam["width"],
        "fy": cam["fy"] * h / cam["height"],
        "cx": cam["cx"] * w / cam["width"],
        "cy": cam["cy"] * h / cam["height"],
        "width": w,
        "height": h,
    }


def _splat_renders(ctx: StageContext, cams: list[dict]) -> tuple[list[np.ndarray], str]:
    import torch

    from splat2sim.io.gaussians_ply import read_gaussians_ply
    from splat2sim.render import Cameras, Gaussians, render

    data = read_gaussians_ply(ctx.upstream_dir("export") / "assets" / "gaussians.ply")  # the metric splat
    g = Gaussians(*(torch.tensor(data[k]) for k in ("means", "log_scales", "quats", "opacity_logits", "sh")))
    backend = ctx.render_backend(ctx.config.splat_backend, "cpu")
    out = []
    with torch.no_grad():
        for c in cams:
            cam = Cameras(
                torch.tensor(np.asarray([c["world_from_camera"]]), dtype=torch.float32),
                torch.tensor([[c["fx"], c["fy"], c["cx"], c["cy"]]], dtype=torch.float32),
                c["width"],
                c["height"],
            )
            rgb = render(g, cam, backend=backend).rgb[0].clamp(0, 1).numpy()
            out.append((rgb * 255).astype(np.uint8))
    return out, backend


def _settled_model(scene_dir: Path, report: dict):
    """MuJoCo model and data of the checked scene with the bodies at their settled MuJoCo poses."""
    from splat2sim.sim.mujoco_sim import compile_model, mujoco_module

    mujoco = mujoco_module()
    model, _ = compile_model(scene_dir / "mjcf" / "scene.xml")
    data = mujoco.MjData(model)
    for name, b in report.get("simulators", {}).get("mujoco", {}).get("bodies", {}).items():
        adr = model.jnt_qposadr[model.body(name).jntadr[0]]
        data.qpos[adr : adr + 3] = b["final_position"]
        data.qpos[adr + 3 : adr + 7] = b["final_quaternion"]
    mujoco.mj_forward(model, data)
    return model, data


def _write(path: Path, rgb: np.ndarray) -> str:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path.name


def _records(ctx: StageContext) -> list[dict]:
    out = []
    for name in layout.STAGE_ORDER:
        record = ctx.workspace.read_record(name)
        if record is not None:
            out.append(record.to_json())
    return out


def _table(headers: list[str], rows: list[list], cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{margin-bottom:0}.sub{color:#666}table{border-collapse:collapse;margin:8px 0 20px}
td,th{border:1px solid #ccc;padding:4px 8px;font-size:14px;text-align:left;vertical-align:top}
th{background:#f0f0f0}.ok{color:#070}.bad{color:#b00}.views img{width:100%;display:block}
.views{display:grid;grid-template-columns:repeat(4,1fr);gap:6px;margin-bottom:12px}
.views figure{margin:0}.views figcaption{font-size:12px;color:#555}li{font-size:14px}"""


def run(ctx: StageContext) -> None:
    from splat2sim.scene.model import load_scene
    from splat2sim.sim.mujoco_sim import render_views

    cfg = ctx.config
    out = ctx.out_dir / "report"
    images = out / "images"
    images.mkdir(parents=True)
    check = ctx.read(check_artifacts.CHECK).to_dict()
    scene_dir = (ctx.upstream_dir("check") / check["scene"]).resolve().parent
    scene = load_scene(scene_dir / "scene.json")
    cams = [_scaled(c, cfg.max_side) for c in _cameras(ctx, cfg.views)]
    with ctx.timed("splat_renders"):
        splats, backend = _splat_renders(ctx, cams)
    ctx.backend = backend
    with ctx.timed("sim_renders"):
        model, data = _settled_model(scene_dir, check)
        sims, hulls = [], []
        for c in cams:  # one camera at a time: the offscreen buffer follows the picture size
            sims += render_views(model, [c], c["width"], c["height"], data)
            hulls += render_views(model, [c], c["width"], c["height"], data, hulls=True)
    import cv2

    view_html = []
    for k, c in enumerate(cams):
        photo = cv2.imread(str(ctx.upstream_dir("frames") / c["file"]))
        photo = cv2.cvtColor(cv2.resize(photo, (c["width"], c["height"]), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        names = [
            _write(images / f"view{k}_photo.jpg", photo),
            _write(images / f"view{k}_splat.jpg", splats[k]),
            _write(images / f"view{k}_mujoco.jpg", sims[k]),
            _write(images / f"view{k}_hulls.jpg", hulls[k]),
        ]
        caps = [f"keyframe {html.escape(c['file'])}", f"splat ({backend})", "MuJoCo, settled 2 s", "collision hulls"]
        view_html.append(
            '<div class="views">'
            + "".join(
                f'<figure><img src="images/{n}" alt="{html.escape(cap)}"><figcaption>{cap}</figcaption></figure>' for n, cap in zip(names, caps)
            )
            + "</div>"
        )
    objects = _objects_table(ctx, scene, check)
    stage_rows, warn_items = _stage_rows(ctx)
    page = _page(ctx.workspace.read_meta(), scene, check, scene_dir, view_html, objects + _scale_section(ctx), stage_rows, warn_items)
    (out / "index.html").write_text(page)
    ctx.metrics.update({"views": len(cams), "images": len(list(images.iterdir())), "splat_backend": backend})
    ctx.summary.append(("report", str(ctx.workspace.stage_dir("report") / "report" / "index.html")))


def _page(meta: dict, scene, check: dict, scene_dir, view_html: list[str], objects: str, stage_rows, warn_items) -> str:
    """The report's HTML: self-contained but for the images beside it."""
    repairs = (
        "".join(
            f"<li><code>{html.escape(r['body'])}</code> {html.escape(r['kind'])}: {html.escape(r['why'])} &rarr; {html.escape(r.get('how', ''))}</li>"
            for r in check.get("repairs", [])
        )
        or "<li>none</li>"
    )
    status = (
        '<span class="ok">every object rests</span>'
        if check.get("all_settled") and scene.bodies
        else '<span class="bad">no object was found: the scene is only the support surface</span>'
        if not scene.bodies
        else f'<span class="bad">not settled: {html.escape(", ".join(check.get("unsettled", [])))}</span>'
    )
    usd = check.get("usd", {})
    sdf = check.get("sdf", {})
    from splat2sim.stages.report.simready_html import simready_section

    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>splat2sim report</title><style>{CSS}</style></head>
<body>
<h1>splat2sim report</h1>
<p class="sub">input <code>{html.escape(str(meta.get("input")))}</code> &middot; {len(scene.bodies)} objects &middot; check: {status}
&middot; USD validation: {"passed" if usd.get("ok") else "failed" if usd else "not run"}
&middot; SDFormat: {html.escape(str(sdf.get("parser") or "not parsed"))} {"passed" if sdf.get("ok") else ""}</p>
<h2>Views: photo, splat, simulator, collision hulls</h2>
{"".join(view_html)}
<h2>Objects</h2>
{objects}
<h2>Repairs made by the check stage</h2><ul>{repairs}</ul>
{simready_section(check)}
<h2>Stages</h2>
{_table(["stage", "version", "backend", "seconds", "warnings", "fallbacks"], stage_rows)}
<h2>Warnings and fallbacks</h2><ul>{"".join(warn_items) or "<li>none</li>"}</ul>
<h2>Open the scene</h2><ul>
<li>MuJoCo: <code>python -m mujoco.viewer --mjcf {html.escape(str(scene_dir / "mjcf" / "scene.xml"))}</code></li>
<li>pybullet: <code>python {html.escape(str(scene_dir / "urdf" / "load_pybullet.py"))} --gui</code></li>
<li>USD: <code>{html.escape(str(scene_dir / "usd" / "scene.usda"))}</code> &middot; SDFormat: <code>{html.escape(str(scene_dir / "sdf" / "scene.sdf"))}</code></li>
</ul>
</body></html>
"""


def _objects_table(ctx: StageContext, scene, check: dict) -> str:
    """Size, physics and how each object settled in each simulator, with its warnings."""
    sim_bodies = {s: v.get("bodies", {}) for s, v in check.get("simulators", {}).items()}
    rows = []
    import trimesh

    for b in scene.bodies:
        pts = np.concatenate([np.asarray(trimesh.load(scene.asset(h), process=False, force="mesh").vertices) for h in b.collision]) * b.scale
        size = np.ptp(pts, axis=0) * 100
        res = []
        for s, bodies in sim_bodies.items():
            r = bodies.get(b.name)
            if r:
                cls = "ok" if r["settled"] and r.get("at_filmed_pose", True) else "bad"
                res.append(
                    f'<span class="{cls}">{s}: {r["drift_from_filmed_mm"]:.2f} mm, {r["rotation_from_filmed_deg"]:.2f}&deg;, '
                    f"pen. {r['penetration_mm']:.2f} mm</span>"
                )
        warnings = [w for rec in _records(ctx) for w in rec.get("warnings", []) if b.name in w or b.id in w]
        src = b.physics_source
        rows.append(
            [
                f"<b>{html.escape(b.label)}</b><br><code>{b.name}</code>",
                _confidence_cell(src.get("segment_confidence"), src.get("segment_doubts") or []),
                " x ".join(f"{v:.1f}" for v in size) + " cm",
                f"{b.inertial['mass']:.3f}",
                f"{b.contact['friction']:.2f}",
                f"{b.contact['restitution']:.2f}",
                str(len(b.collision)),
                html.escape(f"{src.get('source')} ({src.get('material')}, confidence {src.get('confidence')})"),
                "<br>".join(res),
                "<br>".join(html.escape(w) for w in warnings) or "-",
            ]
        )
    objects = _table(
        [
            "object",
            "found with confidence",
            "size",
            "mass (kg)",
            "friction",
            "restitution",
            "hulls",
            "physics source",
            "after 2 s (from filmed pose)",
            "warnings",
        ],
        rows,
    )
    return objects


def _scale_section(ctx: StageContext) -> str:
    """How the metric scale was decided: its source and range, and each weak cue's estimate
    and weight when no marker or known length measured it."""
    from splat2sim.artifacts import scale as scale_artifacts

    doc = ctx.read(scale_artifacts.SCALE)
    span = f" (about 95 %: {doc.range[0]:.4g} - {doc.range[1]:.4g})" if doc.range and doc.range[0] != doc.range[1] else ""
    head = f"<p>{doc.scale:.5g} metres per world unit{span}, from <code>{html.escape(doc.source)}</code>. {html.escape(doc.note)}</p>"
    rows = [[html.escape(name), f"{c['scale']:.4g}", f"x/&divide; {np.exp(2 * c['log_sigma']):.2f}", f"{c.get('weight', 1.0):.0%}",
             html.escape(_cue_detail(name, c))]
            for name, c in doc.cues.items() if isinstance(c, dict) and "scale" in c and "log_sigma" in c]  # fmt: skip
    skipped = "".join(f"<li>{html.escape(k)} not used: {html.escape(v)}</li>" for k, v in (doc.cues.get("skipped") or {}).items())
    table = _table(["cue", "scale", "95 % factor", "weight", "measured"], rows) if rows else ""
    return f"<h2>Metric scale</h2>{head}{table}" + (f"<ul>{skipped}</ul>" if skipped else "")


def _cue_detail(name: str, cue: dict) -> str:
    if name == "camera_distance":
        return f"the phone {cue['distance_units']:.4g} units from the scene it framed, against a typical {cue['prior_m']} m"
    if name == "sizes":
        return f"{cue.get('objects')} object sizes against their label priors"
    return ""


def _confidence_cell(confidence: float | None, doubts: list[str]) -> str:
    """The segment stage's confidence in the object, red below its LOW mark, with the doubts."""
    from splat2sim.stages.segment.confidence import LOW

    if confidence is None:
        return "-"
    cls = "bad" if confidence < LOW else "ok"
    return f'<span class="{cls}">{confidence:.2f}</span>' + "".join(f"<br>{html.escape(d)}" for d in doubts)


def _stage_rows(ctx: StageContext) -> tuple[list[list[str]], list[str]]:
    """A row per stage record, and every warning and fallback as a list item."""
    stage_rows, warn_items = [], []
    for rec in _records(ctx):
        t = rec.get("timings") or {}
        stage_rows.append(
            [
                rec["stage"],
                str(rec.get("stage_version")),
                html.escape(str(rec.get("backend") or "")),
                f"{t.get('seconds', 0):.2f}",
                str(len(rec.get("warnings", []))),
                str(len(rec.get("fallbacks", []))),
            ]
        )
        for f in rec.get("fallbacks", []):
            warn_items.append(
                f"<li><b>{rec['stage']}</b> fallback: {html.escape(f['what'])} &rarr; {html.escape(f['used'])} ({html.escape(f['why'])})</li>"
            )
        for w in rec.get("warnings", []):
            warn_items.append(f"<li><b>{rec['stage']}</b>: {html.escape(w)}</li>")
    for w in ctx.warnings:
        warn_items.append(f"<li><b>report</b>: {html.escape(w)}</li>")
    return stage_rows, warn_items
