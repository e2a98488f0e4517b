"""Small helpers shared by the exporters (no heavy imports)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np


def fmt(x) -> str:
    """Numbers for XML attributes: '%.9g' joined by spaces."""
    arr = np.atleast_1d(np.asarray(x, np.float64)).ravel()
    return " ".join("0" if v == 0 else f"{v:.9g}" for v in arr)


def attr(value: str) -> str:
    """A quoted, escaped XML attribute value (names are sanitized already; this is a second guard)."""
    return quoteattr(str(value))


def relpath(target: Path, start: Path) -> str:
    """Relative path with forward slashes (URDF/MJCF/USD all accept them)."""
    return Path(os.path.relpath(Path(target).resolve(), Path(start).resolve())).as_posix()


def principal_inertia(inertia) -> tuple[np.ndarray, np.ndarray]:
    """Principal moments [3] and a right-handed rotation [3,3] (columns = principal axes)
    with inertia = R diag(moments) R^T."""
    I = np.asarray(inertia, np.float64)
    moments, axes = np.linalg.eigh(0.5 * (I + I.T))
    if np.linalg.det(axes) < 0:
        axes[:, 2] *= -1
    return moments, axes


def rpy_from_matrix(R) -> list[float]:
    """URDF/SDF roll-pitch-yaw (fixed axes x, then y, then z) of a rotation matrix."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(np.asarray(R, np.float64)).as_euler("xyz").tolist()


def restitution_dampratio(restitution: float) -> float:
    """MuJoCo's contact damping ratio that gives (about) this coefficient of restitution:
    a damped spring loses ln(e) per half period, zeta = -ln e / sqrt(pi^2 + ln^2 e).
    Clamped to [0.3, 1] so that contacts never ring."""
    e = min(max(float(restitution), 1e-3), 0.99)
    ln = math.log(e)
    return float(min(1.0, max(0.3, -ln / math.sqrt(math.pi**2 + ln * ln))))
