"""Fusing independent log-normal scale cues into one scale with an honest range."""

from __future__ import annotations

import math


def fuse_cues(cues: dict[str, dict]) -> dict | None:
    """Inverse-variance mean of the cues' log scales.

    cues: {name: {"scale": metres per unit, "log_sigma": > 0}}. Returns {"scale", "log_sigma",
    "range" (about 95 %), "weights" {name: share}, "disagreement"} or None without cues.

    Independent cues shrink the sigma; but when they disagree by more than their sigmas allow
    (chi-square per degree of freedom above 1), at least one is wrong in a way its own sigma
    does not show, so the fused sigma is widened by sqrt(chi2 / dof), as a weighted mean's
    standard error is when the scatter exceeds the stated errors."""
    usable = {k: c for k, c in cues.items() if c.get("scale") and c.get("log_sigma")}
    if not usable:
        return None
    logs = {k: math.log(c["scale"]) for k, c in usable.items()}
    weights = {k: 1.0 / c["log_sigma"] ** 2 for k, c in usable.items()}
    total = sum(weights.values())
    mu = sum(weights[k] * logs[k] for k in usable) / total
    sigma = 1.0 / math.sqrt(total)
    dof = len(usable) - 1
    chi2 = sum(weights[k] * (logs[k] - mu) ** 2 for k in usable)
    widen = math.sqrt(chi2 / dof) if dof and chi2 > dof else 1.0
    sigma *= widen
    return {
        "scale": math.exp(mu),
        "log_sigma": sigma,
        "range": [math.exp(mu - 2 * sigma), math.exp(mu + 2 * sigma)],
        "weights": {k: round(w / total, 4) for k, w in weights.items()},
        "disagreement": {"chi2_per_dof": round(chi2 / dof, 4) if dof else None, "sigma_widened_by": round(widen, 4)},
    }
