from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class SegmentConfig:
    method: Literal["auto", "geometric", "sam"] = field(
        default="auto",
        metadata={"help": "auto: segment-anything when its weights are present, else geometric (recorded as a fallback)"},
    )
    labels: Literal["auto", "clip", "none"] = field(
        default="auto", metadata={"help": "auto: open-clip labels when its weights are present, else object_N (recorded)"}
    )
    # --- geometric: every length is relative to the splat's own spacing or the scene size
    height_margin: float = field(
        default=2.5, metadata={"help": "Gaussians below this many x the table layer thickness (or spacing) are support", "min": 0.0}
    )
    min_opacity: float = field(default=0.1, metadata={"help": "floaters: less opaque Gaussians are not clustered", "min": 0.0, "max": 1.0})
    max_scale: float = field(default=0.05, metadata={"help": "floaters: a Gaussian larger than this x the scene size is not clustered", "min": 0.0})
    min_views: int = field(default=3, metadata={"help": "floaters: a Gaussian must be visible in at least this many keyframes", "min": 0})
    min_solidity: float = field(
        default=0.7,
        metadata={"help": "reject a cluster the views see through: at its most covered pixels it carries less than this share of the "
                          "colour (segment.solidity; fog over a support the splat could not resolve). Between this and 0.8 it is "
                          "kept with low confidence; 0: off", "min": 0.0, "max": 1.0},
    )  # fmt: skip
    visibility_views: int = field(default=16, metadata={"help": "keyframes rendered for visibility, masks and crops", "min": 2})
    render_max_side: int = field(default=320, metadata={"help": "views are rendered at this longest side", "min": 32})
    link_distance: float = field(
        default=2.5, metadata={"help": "clustering: neighbours closer than this x the median Gaussian spacing are linked", "min": 0.5}
    )
    link_scale: float = field(
        default=0.5,
        metadata={"help": "clustering is scale-aware: a link also reaches this x the two Gaussians' largest 1-sigma radii "
                          "(each capped at the link distance), so a sparse, coarse splat stays in one piece", "min": 0.0},
    )  # fmt: skip
    min_object_fraction: float = field(
        default=0.005, metadata={"help": "clusters smaller than this fraction of the above-table Gaussians are noise", "min": 0.0}
    )
    min_object_gaussians: int = field(default=30, metadata={"help": "clusters with fewer Gaussians are noise", "min": 1})
    max_object_size: float = field(
        default=0.6, metadata={"help": "clusters wider than this x the camera distance are background (walls, furniture)", "min": 0.0}
    )
    flat_objects: bool = field(
        default=False,
        metadata={
            "help": "also find objects lying flat (below the height margin): raised and of another colour than the support "
            "(opt-in: over 30 bench captures it found 1 more object and invented 2 more)"
        },
    )
    split_touching: bool = field(default=True, metadata={"help": "split clusters whose footprint has a narrow neck (touching objects)"})
    neck_ratio: float = field(
        default=0.5, metadata={"help": "split where the neck is narrower than this x the smaller part's inscribed radius", "min": 0.0, "max": 1.0}
    )
    view_footprints: bool = field(
        default=True,
        metadata={"help": "separate objects in a top-down height map fused from the views' rendered depth, at the low saddles "
                          "between their peaks; off: 3D proximity and footprint necks alone"},
    )  # fmt: skip
    depth_agreement: float = field(
        default=6.0,
        metadata={"help": "height map: a view agrees with (or sees through) a surface point within (beyond) this many pixel "
                          "footprints", "min": 1.0},
    )  # fmt: skip
    peak_ratio: float = field(
        default=0.3,
        metadata={"help": "height map: a peak is an object of its own when it rises this fraction of its standing height (above "
                          "the height margin) above the saddle joining it to its neighbour", "min": 0.0, "max": 1.0},
    )  # fmt: skip
    peak_broad: float = field(
        default=0.25,
        metadata={"help": "height map: a top is also an object of its own when it rises above the surface noise over the saddle "
                          "and its area there is at least this share of the largest piece's, and it is compact (two boxes side "
                          "by side; a handle, a blade or the arc of a rim is a sliver); 0: off", "min": 0.0, "max": 1.0},
    )  # fmt: skip
    # --- segment-anything
    sam_model: Literal["auto", "vit_h", "vit_l", "vit_b"] = field(default="auto", metadata={"help": "auto: the largest present"})
    sam_checkpoint: str | None = field(default=None, metadata={"help": "explicit SAM checkpoint path (else found under the models folder)"})
    sam_views: int = field(default=6, metadata={"help": "keyframes segmented with SAM", "min": 1})
    vote_threshold: float = field(
        default=0.5, metadata={"help": "a Gaussian joins a mask instance when this share of its visible weight is inside it", "min": 0.0, "max": 1.0}
    )
    associate_threshold: float = field(
        default=0.4,
        metadata={"help": "masks of two views are one object when their lifted Gaussians overlap this much (IoU)", "min": 0.0, "max": 1.0},
    )
    # --- open-clip labels
    clip_model: str = field(default="ViT-B-32", metadata={"help": "open-clip architecture"})
    clip_checkpoint: str | None = field(default=None, metadata={"help": "explicit open-clip weights path (else found under the models folder)"})
    clip_views: int = field(default=4, metadata={"help": "masked crops per object scored by CLIP", "min": 1})
    vocabulary: str | None = field(default=None, metadata={"help": "text file, one label per line (default: the bundled vocabulary)"})
    min_label_score: float = field(default=0.0, metadata={"help": "below this CLIP score an object is named object_N", "min": 0.0, "max": 1.0})
    write_masks: bool = field(default=False, metadata={"help": "also write masks/<frame>.png label images"})

    def validate(self) -> None:
        if self.method == "sam" and self.sam_views < 1:
            raise ValueError("sam_views must be at least 1")
