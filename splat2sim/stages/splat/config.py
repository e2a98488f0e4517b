from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class SplatConfig:
    backend: Literal["auto", "torch", "native", "gsplat"] = field(
        default="auto", metadata={"help": "rasterizer backend (auto: native CUDA/gsplat on a GPU, native CPU otherwise)"}
    )
    iterations: int = field(default=3000, metadata={"help": "optimisation steps", "min": 0})
    train_max_side: int = field(default=480, metadata={"help": "training images are resized to this longest side", "min": 32})
    coarse_fraction: float = field(
        default=0.0,
        metadata={"help": "share of the iterations trained on images downsampled by coarse_factor (coarse to fine: the "
                          "layout first, at a fraction of the pixel work); 0: all at train_max_side", "min": 0.0, "max": 1.0},
    )  # fmt: skip
    coarse_factor: int = field(default=2, metadata={"help": "downsampling of the coarse steps (see coarse_fraction)", "min": 1, "max": 8})
    sh_degree: int = field(default=2, metadata={"help": "highest spherical-harmonics degree", "min": 0, "max": 3})
    sh_increase_every: int = field(default=500, metadata={"help": "steps between SH degree increases", "min": 1})
    init_max_points: int = field(default=20000, metadata={"help": "SfM points used to initialise (subsampled)", "min": 100})
    init_fill_to: int = field(
        default=-1,
        metadata={"help": "when SfM gives fewer points, add points back-projected from the training views up to this count "
                          "(-1: half of max_gaussians, 0: SfM points only)", "min": -1},
    )  # fmt: skip
    init_opacity: float = field(default=0.1, metadata={"min": 0.001, "max": 0.99})
    max_gaussians: int = field(default=60000, metadata={"help": "densification never goes above this count", "min": 100})
    ssim_weight: float = field(default=0.2, metadata={"help": "loss = (1-w) L1 + w (1 - SSIM)", "min": 0.0, "max": 1.0})
    lr_means: float = field(default=1.6e-4, metadata={"help": "times the scene extent; decays 100x over training"})
    lr_scales: float = 5e-3
    lr_quats: float = 1e-3
    lr_opacity: float = 5e-2
    lr_sh_dc: float = 2.5e-3
    lr_sh_rest_factor: float = field(default=1 / 20, metadata={"help": "SH rest lr = lr_sh_dc x this"})
    densify_from: int = field(default=300, metadata={"min": 0})
    densify_until: int = field(default=2000, metadata={"min": 0})
    densify_every: int = field(default=100, metadata={"min": 1})
    densify_grad_threshold: float = field(default=2e-4, metadata={"help": "mean screen-space gradient (NDC) that triggers clone/split"})
    percent_dense: float = field(default=0.01, metadata={"help": "Gaussians larger than this x extent split instead of clone"})
    prune_opacity: float = field(default=0.005, metadata={"min": 0.0, "max": 1.0})
    opacity_reset_every: int = field(default=1500, metadata={"help": "0 = never", "min": 0})
    holdout_every: int = field(default=8, metadata={"help": "every n-th registered frame is held out for evaluation (0 = none)", "min": 0})
    preview_views: int = field(default=3, metadata={"help": "held-out renders saved beside the ground truth", "min": 0})
    import_ply: str | None = field(default=None, metadata={"help": "skip training: use this 3DGS PLY instead"})
    import_frame: Literal["world", "sfm"] = field(
        default="world",
        metadata={"help": "frame of import_ply: 'world' (splat2sim's world) or 'sfm' (the COLMAP frame; world.json's similarity is applied)"},
    )

    def validate(self) -> None:
        if self.densify_until < self.densify_from:
            raise ValueError("densify_until must not be before densify_from")
