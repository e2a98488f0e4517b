"""Metric scale from object sizes: each object's measured size against its label's size prior."""

from __future__ import annotations

import math

import numpy as np


def scale_from_sizes(items: list[tuple[str, np.ndarray, str | None]]) -> dict | None:
    """Metric scale = weighted log-mean over objects of prior size / measured size.

    ``items``: (object id, measured extents [3] in world units, label). Each object's weight
    is the inverse variance of its prior's log-size; the stated sigma is the larger of the
    weighted standard error and the objects' spread (and at least 2 %)."""
    from splat2sim.stages.physics import priors as P
    from splat2sim.stages.physics import reconcile as R

    logs, weights, per_object = [], [], {}
    for oid, extents, label in items:
        measured = np.sort(np.asarray(extents, float))[::-1]
        if not measured[0] > 0:
            continue
        prior = P.label_prior(label)
        ratio = prior.size["value"] / measured[0]
        sigma = R.log_sigma(prior.size["value"], *prior.size["range"])
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
            "per_object": per_object}  # fmt: skip
