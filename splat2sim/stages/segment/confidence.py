"""How much to trust each segmented object, and why: evidence a user can check.

Each piece of doubt multiplies the confidence (1 = no doubt) and adds a reason. The factors
are round numbers that rank doubts, not fitted values: a possible merge halves it, an object
resting on nothing is the strongest doubt (a floater or a piece of the background), few
Gaussians or few views each cost a little. Objects below ``LOW`` are kept and flagged.
"""

from __future__ import annotations

import numpy as np

LOW = 0.5
MERGED, FLOATING, FEW_GAUSSIANS, FEW_VIEWS = 0.5, 0.4, 0.6, 0.6
MIN_GAUSSIANS = 100
MIN_VIEW_FRACTION = 0.25


def object_confidence(gaussians: int, views_seeing: np.ndarray, views: int, support: str, merged: bool) -> tuple[float, list[str]]:
    """(confidence in [0, 1], reasons). ``views_seeing``: per Gaussian of the object, how many
    of the ``views`` keyframes have it in their frustum."""
    confidence, reasons = 1.0, []
    if merged:
        confidence *= MERGED
        reasons.append("may be several touching objects (no clean split between its parts)")
    if support == "none":
        confidence *= FLOATING
        reasons.append("rests on nothing found: neither the support surface nor another object is below it")
    if gaussians < MIN_GAUSSIANS:
        confidence *= FEW_GAUSSIANS
        reasons.append(f"only {gaussians} Gaussians (fewer than {MIN_GAUSSIANS})")
    if views and len(views_seeing):
        seen = float(np.median(views_seeing))
        if seen < MIN_VIEW_FRACTION * views:
            confidence *= FEW_VIEWS
            reasons.append(f"seen by about {seen:.0f} of {views} keyframes")
    return round(confidence, 3), reasons
