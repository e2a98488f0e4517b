"""The standard 3DGS PLY: what gsplat, nerfstudio's exporter and common splat viewers read.

Per vertex (binary little endian float32): x y z, nx ny nz (zeros), f_dc_0..2,
f_rest_0..f_rest_{3(K-1)-1}, opacity (logit), scale_0..2 (log), rot_0..3 (w x y z).
``f_rest`` is channel-major: f_rest[c * (K-1) + k] = sh[:, 1 + k, c].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from splat2sim.errors import InputError


def write_gaussians_ply(
    path: Path,
    means: np.ndarray,  # [N,3]
    log_scales: np.ndarray,  # [N,3]
    quats: np.ndarray,  # [N,4] (w, x, y, z)
    opacity_logits: np.ndarray,  # [N]
    sh: np.ndarray,  # [N,K,3]
) -> None:
    n, k = sh.shape[0], sh.shape[1]
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    names += [f"f_rest_{i}" for i in range(3 * (k - 1))]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    rest = np.transpose(sh[:, 1:, :], (0, 2, 1)).reshape(n, -1)  # channel-major
    data = np.concatenate([means, np.zeros((n, 3)), sh[:, 0, :], rest, opacity_logits.reshape(n, 1), log_scales, quats], axis=1).astype("<f4")
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {n}"]
    header += [f"property float {name}" for name in names]
    header += ["end_header"]
    with open(path, "wb") as handle:
        handle.write(("\n".join(header) + "\n").encode("ascii"))
        handle.write(np.ascontiguousarray(data).tobytes())


def read_gaussians_ply(path: Path) -> dict[str, np.ndarray]:
    """Arrays means, log_scales, quats, opacity_logits, sh [N,K,3] from a 3DGS PLY."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"splat file {path} does not exist", hint="check the path given to --splat / splat.import_ply")
    with open(path, "rb") as handle:
        if handle.readline().strip() != b"ply":
            raise InputError(f"{path} is not a PLY file", hint="give a 3DGS .ply (as written by 3DGS, gsplat or nerfstudio)")
        fmt, count, props = None, None, []
        element = None
        while True:
            line = handle.readline()
            if not line:
                raise InputError(f"{path}: the PLY header has no end_header")
            words = line.decode("ascii", "replace").split()
            if not words:
                continue
            if words[0] == "end_header":
                break
            if words[0] == "format":
                fmt = words[1]
            elif words[0] == "element":
                element = words[1]
                if element == "vertex":
                    count = int(words[2])
            elif words[0] == "property" and element == "vertex":
                if words[1] == "list":
                    raise InputError(f"{path}: vertex list properties are not part of a 3DGS PLY")
                props.append((words[2], words[1]))
        if fmt != "binary_little_endian":
            raise InputError(f"{path}: PLY format {fmt} is not supported", hint="re-export the splat as binary little-endian PLY")
        types = {"float": "<f4", "float32": "<f4", "double": "<f8", "float64": "<f8", "uchar": "u1", "uint8": "u1", "int": "<i4", "int32": "<i4"}
        try:
            dtype = np.dtype([(name, types[kind]) for name, kind in props])
        except KeyError as exc:
            raise InputError(f"{path}: unsupported PLY property type {exc}") from None
        data = np.fromfile(handle, dtype=dtype, count=count)
    if count is None or len(data) != count:
        raise InputError(f"{path} is truncated: {0 if count is None else len(data)} of {count} Gaussians", hint="re-copy the file")
    names = set(dtype.names)
    required = {"x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"}
    missing = sorted(required - names)
    if missing:
        raise InputError(
            f"{path} is not a 3DGS splat PLY: missing {', '.join(missing)}",
            hint="a point cloud is not a splat; train one with `splat2sim splat` or export the 3DGS PLY from your tool",
        )
    rest_names = sorted((n for n in names if n.startswith("f_rest_")), key=lambda s: int(s.split("_")[-1]))
    k = 1 + len(rest_names) // 3
    if len(rest_names) % 3 or k not in (1, 4, 9, 16):
        raise InputError(f"{path}: {len(rest_names)} f_rest properties do not form SH of degree 0-3")
    col = lambda *keys: np.stack([data[key].astype(np.float32) for key in keys], axis=1)  # noqa: E731
    sh = np.zeros((count, k, 3), np.float32)
    sh[:, 0, :] = col("f_dc_0", "f_dc_1", "f_dc_2")
    if k > 1:
        rest = col(*rest_names).reshape(count, 3, k - 1)
        sh[:, 1:, :] = np.transpose(rest, (0, 2, 1))
    return {
        "means": col("x", "y", "z"),
        "log_scales": col("scale_0", "scale_1", "scale_2"),
        "quats": col("rot_0", "rot_1", "rot_2", "rot_3"),
        "opacity_logits": data["opacity"].astype(np.float32),
        "sh": sh,
    }


# A Gaussian's 1-sigma size in world units: exp(log_scale) outside e^-20..e^10 (2e-9..2e4) is
# no surface a camera saw, only a broken or foreign file.
LOG_SCALE_RANGE = (-20.0, 10.0)


def validate_gaussians(data: dict[str, np.ndarray], path: Path) -> None:
    """Refuse a splat that cannot be rendered: no Gaussians, values that are not finite,
    sizes out of any sane range, or rotations of zero length. The error names the file,
    the field and how many Gaussians are affected."""
    path = Path(path)
    hint = "re-export the splat from the tool that trained it, or train one with `splat2sim splat`"
    count = len(data["means"])
    if count == 0:
        raise InputError(f"{path} holds no Gaussians", hint=hint)
    for name in ("means", "log_scales", "quats", "opacity_logits", "sh"):
        bad = ~np.isfinite(data[name].reshape(count, -1)).all(1)
        if bad.any():
            raise InputError(f"{path}: {int(bad.sum())} of {count} Gaussians have non-finite {name} (NaN or infinity)", hint=hint)
    lo, hi = LOG_SCALE_RANGE
    bad = (data["log_scales"] < lo).any(1) | (data["log_scales"] > hi).any(1)
    if bad.any():
        raise InputError(f"{path}: {int(bad.sum())} of {count} Gaussians have log-scales outside [{lo:g}, {hi:g}]", hint=hint)
    bad = np.linalg.norm(data["quats"], axis=1) < 1e-12
    if bad.any():
        raise InputError(f"{path}: {int(bad.sum())} of {count} Gaussians have a zero rotation quaternion", hint=hint)
