from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class MeshConfig:
    backend: Literal["auto", "torch", "native", "gsplat"] = field(
        default="auto", metadata={"help": "rasterizer backend used to render depth and colour from the splat"}
    )
    voxels_per_diagonal: int = field(
        default=160, metadata={"help": "TSDF voxel = object bbox diagonal / this (thin walls need small voxels)", "min": 16, "max": 1024}
    )
    min_voxel: float = field(default=0.0005, metadata={"help": "smallest TSDF voxel in metres", "min": 1e-5})
    # 5 fits a trained CPU-preset splat's blurred depth better than 3 (3D IoU +0.011-0.016 on
    # the 4 e2e captures, 88 of 93 bench objects better, none worse, cavities as open); 8
    # thickens thin walls (bench/results/objects.json, the mesh.trunc_voxels arms)
    trunc_voxels: float = field(default=5.0, metadata={"help": "TSDF truncation in voxels (keep it below a thin wall's thickness)", "min": 1.0})
    level_set_edge: float = field(default=1.5, metadata={"help": "edge length of the extracted surface, in voxels", "min": 0.5, "max": 4.0})
    render_max_side: int = field(default=480, metadata={"help": "training views are rendered at most this large", "min": 32})
    use_training_views: bool = field(default=True, metadata={"help": "fuse the training views (occlusion checked against the full render)"})
    extra_views: int = field(
        default=32, metadata={"help": "virtual views on a half-sphere around each object (0 = none; carve_with=object only)", "min": 0}
    )
    extra_view_size: int = field(default=256, metadata={"help": "pixels per side of the virtual views", "min": 32})
    alpha_threshold: float = field(
        default=0.5, metadata={"help": "a pixel belongs to a surface where the rendered alpha exceeds this", "min": 0.01, "max": 0.99}
    )
    min_component_fraction: float = field(
        default=0.05, metadata={"help": "components with less area than this share of the largest are dropped", "min": 0.0, "max": 1.0}
    )
    carve_with: Literal["scene", "object"] = field(
        default="scene",
        metadata={"help": "the solid is what the whole splat's training renders never show empty inside the object's footprint "
                          "(scene), or what the object's own renders, training and virtual, never do (object: exact for a "
                          "clean splat, but carves through every Gaussian the segmentation missed)"},
    )  # fmt: skip
    carve_min_views: int = field(
        default=1,
        metadata={"help": "a voxel is empty when this many views see through it (1: classic space carving; more forgive holes "
                          "in a sparse object's render)", "min": 1},
    )  # fmt: skip
    footprint_above: float = field(
        default=0.25,
        metadata={"help": "carve_with=scene: the object's footprint seen from above comes from its Gaussians above this share "
                          "of its height (its base's blur skirt is the support smeared, not the object; 0 = all)", "min": 0.0, "max": 0.9},
    )  # fmt: skip
    face_budget: int = field(default=6000, metadata={"help": "faces per object mesh after simplification", "min": 100})
    min_gaussians: int = field(
        default=20, metadata={"help": "objects with fewer Gaussians get a box from their Gaussians' extent (recorded)", "min": 1}
    )
    min_thickness: float = field(default=0.002, metadata={"help": "flatter objects are thickened to this (metres)", "min": 1e-5})
    background: bool = field(default=True, metadata={"help": "also mesh the background (table, surroundings)"})
    background_voxel: float = field(default=0.0, metadata={"help": "TSDF voxel of the background in metres (0 = scene extent / 256)", "min": 0.0})
    background_face_budget: int = field(default=20000, metadata={"help": "faces of the background mesh", "min": 100})

    def validate(self) -> None:
        pass
