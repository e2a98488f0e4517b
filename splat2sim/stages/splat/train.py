"""Gaussian-splat optimisation: L1 + D-SSIM, Adam with per-parameter learning rates, an SH
degree schedule, adaptive density control (clone / split / prune) and opacity resets, as in
3DGS (Kerbl et al. 2023), capped at a maximum count for CPUs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from splat2sim.errors import ConfigError
from splat2sim.render import Cameras, Gaussians, render
from splat2sim.render.conventions import SH_C0
from splat2sim.stages.splat.ssim import psnr, ssim

PARAMS = ("means", "log_scales", "quats", "opacity_logits", "sh_dc", "sh_rest")


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


@dataclass
class TrainViews:
    images: torch.Tensor  # [F,H,W,3] float in [0, 1]
    cameras: Cameras  # F cameras sharing the image size
    train: list[int]  # indices into the F views
    test: list[int]

    def to(self, device) -> "TrainViews":
        return TrainViews(self.images.to(device), self.cameras.to(device=device), self.train, self.test)

    def camera(self, i: int) -> Cameras:
        return Cameras(self.cameras.world_from_camera[i : i + 1], self.cameras.intrinsics[i : i + 1], self.cameras.width, self.cameras.height)

    def downsampled(self, factor: int) -> "TrainViews":
        """The same views at 1/``factor`` of the size: each pixel the mean of a factor x factor
        block (area averaging), the intrinsics divided by ``factor``. Pixel coordinates put
        the image's corner at 0 (splat2sim.render.conventions), so a scaled camera sees exactly
        what the block covers; a last partial row or column of blocks is dropped."""
        if factor == 1:
            return self
        h, w = self.images.shape[1] // factor, self.images.shape[2] // factor
        if min(h, w) < 8:
            raise ConfigError(
                f"splat.coarse_factor {factor} leaves under 8 pixels a side of the {self.images.shape[2]}x{self.images.shape[1]} training images",
                hint="lower splat.coarse_factor, or set splat.coarse_fraction=0",
            )
        blocks = self.images[:, : h * factor, : w * factor].permute(0, 3, 1, 2)  # [F,3,H,W]
        small = torch.nn.functional.avg_pool2d(blocks, factor).permute(0, 2, 3, 1).contiguous()
        cameras = Cameras(self.cameras.world_from_camera, self.cameras.intrinsics / factor, w, h)
        return TrainViews(small, cameras, self.train, self.test)


def scene_extent(cameras: Cameras) -> float:
    """3DGS's cameras_extent: 1.1 x the largest camera distance from their mean centre."""
    centres = cameras.centers()
    return 1.1 * float(torch.linalg.norm(centres - centres.mean(0), dim=1).max().clamp_min(1e-6))


def initial_gaussians(points: np.ndarray, colours: np.ndarray, sh_degree: int, opacity: float) -> dict[str, torch.Tensor]:
    """Gaussians at the SfM points [P,3] with their colours [P,3] in [0,1]: isotropic, scaled
    to the mean distance of their 3 nearest neighbours."""
    from scipy.spatial import cKDTree

    tree = cKDTree(points)
    dist, _ = tree.query(points, k=min(4, len(points)))
    mean_dist = np.clip(dist[:, 1:].mean(axis=1), 1e-7, None) if dist.ndim == 2 else np.full(len(points), 0.01)
    n, k = len(points), (sh_degree + 1) ** 2
    quats = np.zeros((n, 4), np.float32)
    quats[:, 0] = 1
    return {
        "means": torch.tensor(points, dtype=torch.float32),
        "log_scales": torch.tensor(np.log(mean_dist)[:, None].repeat(3, 1), dtype=torch.float32),
        "quats": torch.tensor(quats),
        "opacity_logits": torch.full((n,), _logit(opacity), dtype=torch.float32),
        "sh_dc": torch.tensor((colours - 0.5) / SH_C0, dtype=torch.float32)[:, None, :],
        "sh_rest": torch.zeros((n, k - 1, 3), dtype=torch.float32),
    }


class SplatModel:
    """Parameters as leaf tensors and one Adam optimiser with a group per parameter."""

    def __init__(self, params: dict[str, torch.Tensor], lrs: dict[str, float], device: str | torch.device = "cpu"):
        self.params = {name: params[name].detach().to(device).clone().requires_grad_(True) for name in PARAMS}
        self.optimizer = torch.optim.Adam([{"params": [self.params[name]], "lr": lrs[name], "name": name} for name in PARAMS], eps=1e-15)

    @property
    def num(self) -> int:
        return int(self.params["means"].shape[0])

    def gaussians(self) -> Gaussians:
        p = self.params
        return Gaussians(p["means"], p["log_scales"], p["quats"], p["opacity_logits"], torch.cat([p["sh_dc"], p["sh_rest"]], dim=1))

    def set_lr(self, name: str, lr: float) -> None:
        for group in self.optimizer.param_groups:
            if group["name"] == name:
                group["lr"] = lr

    def _rebuild(self, keep: torch.Tensor, extra: dict[str, torch.Tensor] | None) -> None:
        """Keep rows ``keep`` [N] bool and append ``extra`` rows, carrying Adam's moments
        (new rows start with zero moments)."""
        for group in self.optimizer.param_groups:
            name = group["name"]
            old = group["params"][0]
            state = self.optimizer.state.pop(old, {})
            new_data = old.detach()[keep]
            add = extra[name].detach() if extra else None
            if add is not None:
                new_data = torch.cat([new_data, add], dim=0)
            new = new_data.clone().requires_grad_(True)
            for key in ("exp_avg", "exp_avg_sq"):
                if key in state:
                    moment = state[key][keep]
                    if add is not None:
                        moment = torch.cat([moment, torch.zeros_like(add)], dim=0)
                    state[key] = moment
            if state:
                self.optimizer.state[new] = state
            group["params"][0] = new
            self.params[name] = new

    def densify_and_prune(self, grad_avg: torch.Tensor, extent: float, cfg, big_world: bool, generator) -> dict:
        """3DGS adaptive density control. grad_avg [N]: mean NDC screen gradient per Gaussian."""
        p = {k: v.detach() for k, v in self.params.items()}
        n = self.num
        scales = torch.exp(p["log_scales"]).max(dim=1).values
        high = grad_avg >= cfg.densify_grad_threshold
        budget = max(0, cfg.max_gaussians - n)
        if int(high.sum()) > budget:  # keep the largest gradients within the cap
            order = torch.argsort(grad_avg, descending=True)
            high = torch.zeros_like(high)
            # each split adds one net Gaussian (two replace one), each clone adds one
            high[order[:budget]] = True
        small = scales <= cfg.percent_dense * extent
        clone = high & small
        split = high & ~small
        extra = {name: p[name][clone] for name in PARAMS}
        if split.any():
            idx = torch.nonzero(split).squeeze(1)
            s = torch.exp(p["log_scales"][idx]).repeat(2, 1)
            q = torch.nn.functional.normalize(p["quats"][idx], dim=1).repeat(2, 1)
            noise = torch.randn(s.shape, generator=generator).to(s.device) * s  # CPU generator: same draws on any device
            offset = torch.einsum("nij,nj->ni", _rotmat(q), noise)
            new = {
                "means": p["means"][idx].repeat(2, 1) + offset,
                "log_scales": p["log_scales"][idx].repeat(2, 1) - math.log(1.6),
                "quats": p["quats"][idx].repeat(2, 1),
                "opacity_logits": p["opacity_logits"][idx].repeat(2),
                "sh_dc": p["sh_dc"][idx].repeat(2, 1, 1),
                "sh_rest": p["sh_rest"][idx].repeat(2, 1, 1),
            }
            extra = {name: torch.cat([extra[name], new[name]], dim=0) for name in PARAMS}
        keep = ~split
        self._rebuild(keep, extra)
        # prune: transparent, and (after the first opacity reset) huge in the world or on screen
        opacity = torch.sigmoid(self.params["opacity_logits"].detach())
        prune = opacity < cfg.prune_opacity
        if big_world:
            # after the first opacity reset, also drop Gaussians grown huge in the world
            prune |= torch.exp(self.params["log_scales"].detach()).max(dim=1).values > 0.1 * extent
        if prune.all():
            prune = torch.zeros_like(prune)
        if prune.any():
            self._rebuild(~prune, None)
        return {"cloned": int(clone.sum()), "split": int(split.sum()), "pruned": int(prune.sum()), "count": self.num}

    def reset_opacity(self, ceiling: float = 0.01) -> None:
        with torch.no_grad():
            logits = self.params["opacity_logits"]
            logits.copy_(torch.minimum(logits, torch.full_like(logits, _logit(ceiling))))
        for group in self.optimizer.param_groups:
            if group["name"] == "opacity_logits":
                state = self.optimizer.state.get(group["params"][0])
                if state:
                    state["exp_avg"].zero_()
                    state["exp_avg_sq"].zero_()


def _rotmat(q: torch.Tensor) -> torch.Tensor:
    """[N,3,3] rotation matrices of unit quaternions q [N,4] (w, x, y, z)."""
    w, x, y, z = q.unbind(1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=1,
    ).reshape(-1, 3, 3)  # fmt: skip


def train(model: SplatModel, views: TrainViews, cfg, *, backend: str, seed: int, progress=None) -> dict:
    """Optimise ``model`` on the training views; returns a history of losses and counts."""
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    extent = scene_extent(views.cameras)
    lr_means0, lr_means1 = cfg.lr_means * extent, cfg.lr_means * extent / 100
    device = model.params["means"].device
    # coarse to fine: the first steps fit the layout at 1/coarse_factor of the size (a
    # quarter of the pixel work at 2), the rest at full size
    coarse_steps = round(cfg.coarse_fraction * cfg.iterations) if cfg.coarse_factor > 1 else 0
    coarse = views.downsampled(cfg.coarse_factor) if coarse_steps else views
    # pixels per NDC unit of each size: the densification gradient is measured in NDC
    ndc_scales = {id(v): torch.tensor([v.cameras.width / 2.0, v.cameras.height / 2.0], device=device) for v in (coarse, views)}
    grad_accum = torch.zeros(model.num, device=device)
    grad_count = torch.zeros(model.num, device=device)
    history = {"loss": [], "densify": [], "extent": extent, "coarse_steps": coarse_steps}
    order: list[int] = []
    resets = 0
    for step in range(1, cfg.iterations + 1):
        t = step / max(1, cfg.iterations)
        model.set_lr("means", lr_means0 * (lr_means1 / lr_means0) ** t)
        if not order:
            order = list(rng.permutation(views.train))
        view = order.pop()
        degree = min(cfg.sh_degree, (step - 1) // cfg.sh_increase_every)
        at = coarse if step <= coarse_steps else views
        out = render(model.gaussians(), at.camera(view), backend=backend, sh_degree=degree)
        target = at.images[view : view + 1]
        l1 = torch.abs(out.rgb - target).mean()
        loss = (1 - cfg.ssim_weight) * l1 + cfg.ssim_weight * (1 - ssim(out.rgb, target))
        loss.backward()
        with torch.no_grad():
            if step <= cfg.densify_until and out.means2d.grad is not None:
                visible = out.radii[0] > 0
                g = torch.linalg.norm(out.means2d.grad[0] * ndc_scales[id(at)], dim=1)
                grad_accum[visible] += g[visible]
                grad_count[visible] += 1
        model.optimizer.step()
        model.optimizer.zero_grad(set_to_none=True)
        history["loss"].append(float(loss.detach()))
        if cfg.densify_from < step <= cfg.densify_until and step % cfg.densify_every == 0:
            grad_avg = grad_accum / grad_count.clamp_min(1)
            stats = model.densify_and_prune(grad_avg, extent, cfg, big_world=resets > 0, generator=generator)
            history["densify"].append({"step": step, **stats})
            grad_accum = torch.zeros(model.num, device=device)
            grad_count = torch.zeros(model.num, device=device)
        if cfg.opacity_reset_every and step % cfg.opacity_reset_every == 0 and step <= cfg.densify_until:
            model.reset_opacity()
            resets += 1
        if progress is not None:
            progress.advance()
    return history


@torch.no_grad()
def evaluate(gaussians: Gaussians, views: TrainViews, indices: list[int], *, backend: str) -> dict:
    """PSNR and SSIM of renders against the images at ``indices``."""
    if not indices:
        return {"psnr": None, "ssim": None, "views": 0, "psnr_per_view": []}
    psnrs, ssims = [], []
    for i in indices:
        out = render(gaussians, views.camera(i), backend=backend)
        target = views.images[i : i + 1]
        psnrs.append(psnr(out.rgb, target))
        ssims.append(float(ssim(out.rgb.clamp(0, 1), target)))
    return {
        "psnr": round(float(np.mean(psnrs)), 3),
        "ssim": round(float(np.mean(ssims)), 4),
        "views": len(indices),
        "psnr_per_view": [round(float(x), 3) for x in psnrs],
    }
