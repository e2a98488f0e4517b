"""Per-object physical estimates from each estimator: the label prior, the VLM, CLIP."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path

from splat2sim.errors import InputError
from splat2sim.stages.base import StageContext
from splat2sim.stages.physics import priors as P

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


def load_prompt(name: str) -> tuple[str, str]:
    path = PROMPT_DIR / f"{name}.txt"
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in PROMPT_DIR.glob("*.txt")))
        raise InputError(f"prompt '{name}' does not exist in {PROMPT_DIR}", hint=f"physics.prompt: one of {available}")
    text = path.read_text()
    return text.replace("{materials}", ", ".join(P.materials())), text


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
