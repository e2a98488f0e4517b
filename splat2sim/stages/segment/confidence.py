"""How much to trust each segmented object, and why: evidence a user can check.

Each piece of doubt multiplies the confidence (1 = no doubt) and adds a reason. The factors
are round numbers that rank doubts, not fitted values: a possible merge halves it, an object
resting on nothing or seen through in the views is the strongest doubt (a floater, a piece
of the background, fog over the support), few Gaussians or few views each cost a little.
Objects below ``LOW`` are kept and flagged.
"""

from __future__ import annotations

import numpy as np

LOW = 0.5
MERGED, FLOATING, SEEN_THROUGH, FEW_GAUSSIANS, FEW_VIEWS = 0.5, 0.4, 0.4, 0.6, 0.6
MIN_GAUSSIANS = 100
MIN_VIEW_FRACTION = 0.25
#: segment.solidity below this: seen through. Every true object of the held-out varied-orbit
#: captures 140-151 covered its own pixels with 0.82 of the weight or more (median 0.97).
SOLID = 0.8


def object_confidence(gaussians: int, views_seeing: np.ndarray, views: int, support: str, merged: bool,
                      solidity: float = float("nan")) -> tuple[float, list[str]]:  # fmt: skip
    """(confidence in [0, 1], reasons). ``views_seeing``: per Gaussian of the object, how many
    of the ``views`` keyframes have it in their frustum; ``solidity``: segment.solidity's
    measure (nan: not measured)."""
    confidence, reasons = 1.0, []
    if merged:
        confidence *= MERGED
        reasons.append("may be several touching objects (no clean split between its parts)")
    if support == "none":
        confidence *= FLOATING
        reasons.append("rests on nothing found: neither the support surface nor another object is below it")
    if solidity < SOLID:
        confidence *= SEEN_THROUGH
        reasons.append(f"seen through: even at its most covered pixels it carries {solidity:.0%} of the colour (a solid covers its own "
                       "pixels alone): fog or blur of the splat rather than a solid?")  # fmt: skip
    if gaussians < MIN_GAUSSIANS:
        confidence *= FEW_GAUSSIANS
        reasons.append(f"only {gaussians} Gaussians (fewer than {MIN_GAUSSIANS})")
    if views and len(views_seeing):
        seen = float(np.median(views_seeing))
        if seen < MIN_VIEW_FRACTION * views:
            confidence *= FEW_VIEWS
            reasons.append(f"seen by about {seen:.0f} of {views} keyframes")
    return round(confidence, 3), reasons
