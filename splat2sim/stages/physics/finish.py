"""One object's physics.json record: the estimate reconciled with the measured geometry,
user overrides applied, ranges widened by the scale's uncertainty, and checked."""

from __future__ import annotations

import math

import numpy as np

from splat2sim.errors import StageError
from splat2sim.stages.base import StageContext
from splat2sim.stages.physics import priors as P
from splat2sim.stages.physics import reconcile as R
from splat2sim.stages.physics.estimates import CONFIDENCE, FRICTION_KEYS, Estimate, _table_surface


def _q(d: dict, source: str, confidence: float) -> dict:
    return {"value": float(d["value"]), "range": [float(min(d["range"][0], d["value"])), float(max(d["range"][1], d["value"]))],
            "source": d.get("source", source), "confidence": round(float(confidence), 3)}  # fmt: skip


def _finish(ctx: StageContext, o: dict, est: Estimate, g: R.Geometry, user: dict, extra_sigma: float) -> dict:
    oid = o["id"]
    notes = list(est.notes)
    material, fill, thickness = est.material, est.fill, est.thickness
    density = dict(est.density)
    surface = {k: dict(v) for k, v in est.surface.items()}
    material, fill, thickness, density = _user_material(o, user, material, fill, thickness, density, surface, notes)
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
        "measured": {
            "extents": [float(x) for x in g.extents],
            "volume": float(g.volume),
            "area": float(g.area),
            "wall_area": float(g.wall_area),
            "material_volume": float(rec.material.volume),
            "watertight": g.watertight,
            "density_x_volume_kg": rec.geometric,
        },  # fmt: skip
        "estimator": {"used": est.source, **est.details},
        "notes": notes,
    }


def _user_material(o: dict, user: dict, material, fill, thickness, density, surface: dict, notes: list[str]):
    """A user's material, hollowness and wall thickness over the estimate's (surface updated in place)."""
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
    return material, fill, thickness, density


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
