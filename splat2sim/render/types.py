"""The data the renderer takes and returns: Gaussians, Cameras, RenderOutput, Contributions."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from splat2sim.errors import InputError
from splat2sim.render.conventions import MAX_SH_DEGREE


@dataclass
class Gaussians:
    """A set of N 3D Gaussians, parameterized as in the 3DGS PLY (see conventions)."""

    means: torch.Tensor  # [N,3] world
    log_scales: torch.Tensor  # [N,3]
    quats: torch.Tensor  # [N,4] (w, x, y, z), any norm
    opacity_logits: torch.Tensor  # [N]
    sh: torch.Tensor  # [N,K,3], K = (degree + 1)^2

    @property
    def num(self) -> int:
        return int(self.means.shape[0])

    @property
    def sh_degree(self) -> int:
        """The highest SH degree the coefficients hold."""
        return int(round(self.sh.shape[1] ** 0.5)) - 1

    @property
    def device(self) -> torch.device:
        return self.means.device

    @property
    def dtype(self) -> torch.dtype:
        return self.means.dtype

    def validate(self) -> None:
        """Raise InputError when shapes, dtypes or devices disagree."""
        n = self.means.shape[0] if self.means.dim() == 2 else -1
        expect = {
            "means": (self.means, (n, 3)),
            "log_scales": (self.log_scales, (n, 3)),
            "quats": (self.quats, (n, 4)),
            "opacity_logits": (self.opacity_logits, (n,)),
        }
        for name, (t, shape) in expect.items():
            if tuple(t.shape) != shape:
                raise InputError(f"Gaussians.{name} has shape {tuple(t.shape)}, expected {shape} (N = {n}).")
        if self.sh.dim() != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3:
            raise InputError(f"Gaussians.sh has shape {tuple(self.sh.shape)}, expected [N, K, 3].")
        k = self.sh.shape[1]
        if k not in tuple((d + 1) ** 2 for d in range(MAX_SH_DEGREE + 1)):
            raise InputError(f"Gaussians.sh holds {k} coefficients per channel; expected 1, 4, 9 or 16 (SH degree 0-{MAX_SH_DEGREE}).")
        for name in ("log_scales", "quats", "opacity_logits", "sh"):
            t = getattr(self, name)
            if t.device != self.means.device or t.dtype != self.means.dtype:
                raise InputError(f"Gaussians.{name} is {t.dtype} on {t.device}; means is {self.means.dtype} on {self.means.device}: they must match.")
        if not self.means.dtype.is_floating_point:
            raise InputError(f"Gaussians must be floating point, got {self.means.dtype}.")


@dataclass
class Cameras:
    """C pinhole cameras sharing one image size."""

    world_from_camera: torch.Tensor  # [C,4,4] OpenCV axes (x right, y down, z forward)
    intrinsics: torch.Tensor  # [C,4] (fx, fy, cx, cy) pixels
    width: int
    height: int

    @property
    def num(self) -> int:
        return int(self.world_from_camera.shape[0])

    def camera_from_world(self) -> torch.Tensor:
        """[C,4,4] the rigid inverse of world_from_camera (gsplat's viewmats)."""
        r = self.world_from_camera[:, :3, :3]
        t = self.world_from_camera[:, :3, 3:]
        rt = r.transpose(1, 2)
        out = torch.zeros_like(self.world_from_camera)
        out[:, :3, :3] = rt
        out[:, :3, 3:] = -rt @ t
        out[:, 3, 3] = 1
        return out

    def centers(self) -> torch.Tensor:
        """[C,3] camera centres in the world frame."""
        return self.world_from_camera[:, :3, 3]

    def K(self) -> torch.Tensor:
        """[C,3,3] intrinsic matrices."""
        fx, fy, cx, cy = self.intrinsics.unbind(-1)
        z, o = torch.zeros_like(fx), torch.ones_like(fx)
        return torch.stack([fx, z, cx, z, fy, cy, z, z, o], dim=-1).reshape(-1, 3, 3)

    def to(self, device=None, dtype=None) -> "Cameras":
        return Cameras(
            self.world_from_camera.to(device=device, dtype=dtype),
            self.intrinsics.to(device=device, dtype=dtype),
            self.width,
            self.height,
        )

    def validate(self) -> None:
        c = self.world_from_camera.shape[0]
        if tuple(self.world_from_camera.shape) != (c, 4, 4):
            raise InputError(f"Cameras.world_from_camera has shape {tuple(self.world_from_camera.shape)}, expected [C, 4, 4].")
        if tuple(self.intrinsics.shape) != (c, 4):
            raise InputError(f"Cameras.intrinsics has shape {tuple(self.intrinsics.shape)}, expected [{c}, 4] (fx, fy, cx, cy).")
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise InputError(f"Camera image size {self.width}x{self.height} is not positive.")


@dataclass
class Contributions:
    """Per-pixel blending weights of the Gaussians that contribute most, for lifting 2D
    masks to Gaussians. ``ids`` -1 marks an empty slot (its weight is 0)."""

    ids: torch.Tensor  # [C,H,W,K] int64, Gaussian index or -1
    weights: torch.Tensor  # [C,H,W,K] blending weight w = alpha * T, largest first

    def weights_per_gaussian(self, mask: torch.Tensor, num_gaussians: int) -> torch.Tensor:
        """[N] sum over pixels of mask * w for every Gaussian (top-K approximation of
        :func:`splat2sim.render.mask_weights`, which is exact).

        mask: [C,H,W] or [H,W] (broadcast to every camera), bool or float."""
        c, h, w, _ = self.ids.shape
        m = mask.to(device=self.weights.device, dtype=self.weights.dtype)
        if m.dim() == 2:
            m = m.expand(c, h, w)
        if tuple(m.shape) != (c, h, w):
            raise InputError(f"mask has shape {tuple(mask.shape)}, expected [{c},{h},{w}] or [{h},{w}].")
        vals = self.weights * m[..., None]
        valid = self.ids >= 0
        out = torch.zeros(num_gaussians, dtype=self.weights.dtype, device=self.weights.device)
        out.index_add_(0, self.ids[valid], vals[valid])
        return out


@dataclass
class RenderOutput:
    rgb: torch.Tensor  # [C,H,W,3], background composited
    alpha: torch.Tensor  # [C,H,W,1] = 1 - T_final
    depth: torch.Tensor  # [C,H,W,1] expected camera z (normalized by alpha; 0 where empty)
    median_depth: torch.Tensor  # [C,H,W,1] camera z where T crosses 0.5 (0 where it does not)
    means2d: torch.Tensor  # [C,N,2] pixels; .grad retained after backward (densification)
    radii: torch.Tensor  # [C,N] int32 pixels, 0 = culled
    depths: torch.Tensor  # [C,N] camera z of each mean (0 where culled)
    backend: str  # the backend that rendered
    backend_reason: str  # why that backend was chosen
    contributions: Contributions | None = None  # when return_contributions=True
