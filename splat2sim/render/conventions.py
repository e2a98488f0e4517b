"""Conventions of the rasterizer, written once. Every backend follows them; the native
kernels repeat the numeric constants in ``csrc/include/splat2sim/common.h`` and ``sh.h``,
and the conformance tests hold the two to each other.

Frames and cameras
    * World: right-handed, metres. Cameras: OpenCV axes (x right, y down, z forward),
      stored as ``world_from_camera`` [C,4,4]. The renderer uses its rigid inverse,
      ``camera_from_world`` (gsplat's ``viewmats``).
    * Intrinsics [C,4] = (fx, fy, cx, cy) in pixels; the centre of pixel (row i, column j)
      is at (j + 0.5, i + 0.5), so cx = W / 2 puts the principal point at the image centre.
    * ``depth`` is the camera-frame z of a Gaussian's mean (not the distance to it).

Gaussians (as in the 3DGS PLY)
    * means [N,3] world; log_scales [N,3] (scale = exp); quats [N,4] (w, x, y, z), any
      norm (normalized inside); opacity_logits [N] (opacity = sigmoid); sh [N,K,3] with
      K = (degree + 1)^2, K <= 16; sh[:, 0] is the DC term.
    * Colour = max(0, sum_k SH_k(d) sh[:, k] + 0.5) with d the unit vector from the camera
      centre to the mean (world frame) and the 3DGS basis signs and constants
      (SH_C0 = 0.28209479177387814, so the DC colour is SH_C0 * sh[:, 0] + 0.5).

Projection (EWA splatting, as in 3DGS / gsplat "classic")
    * Culled (radius 0, no contribution, zero gradient) when z <= near or z >= far, when
      the 2D covariance is degenerate, or when the 3-sigma square misses the image.
    * Jacobian J of the perspective projection at the mean, with x/z and y/z clamped to
      the image extent plus 30% of tan(fov/2) on each side (FOV_MARGIN).
    * cov2d = J W Sigma W^T J^T + EPS2D * I, EPS2D = 0.3 (low-pass dilation, no
      opacity compensation); conic = inverse(cov2d) stored as (a, b, c) of [[a, b], [b, c]].
    * radius = ceil(3 sqrt(lambda_max(cov2d))) pixels, lambda_max computed as
      mid + sqrt(max(0.1, mid^2 - det)).

Compositing
    * Tiles of 16x16 pixels; a Gaussian enters every tile its radius square
      [floor((u - r) / 16), ceil((u + r) / 16)) overlaps. Per tile, Gaussians are sorted by
      depth (ties: by index).
    * Per pixel, front to back: sigma = 0.5 (a dx^2 + c dy^2) + b dx dy with
      (dx, dy) = mean2d - pixel centre; skip if sigma < 0; alpha = min(0.99, o exp(-sigma));
      skip if alpha < 1/255; stop (without this Gaussian) when T (1 - alpha) <= 1e-4;
      weight w = alpha T, then T <- T (1 - alpha).
    * rgb = sum w c + T_final * background; alpha = 1 - T_final;
      depth (expected) = sum w z / alpha (0 where alpha <= 1e-6);
      median depth = z of the first Gaussian after which T <= 0.5 (0 where T never gets
      there).
    * Contributions: per pixel the ``top_k`` Gaussians with the largest weights w
      (ids, -1 for empty slots, and w), largest first.
"""

from __future__ import annotations

TILE_SIZE = 16
ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.99
T_MIN = 1e-4
EPS2D = 0.3
MEDIAN_T = 0.5
FOV_MARGIN = 0.3
DEPTH_ALPHA_EPS = 1e-6
MAX_SH_DEGREE = 3

SH_C0 = 0.28209479177387814
SH_C1 = 0.4886025119029199
SH_C2 = (
    1.0925484305920792,
    -1.0925484305920792,
    0.31539156525252005,
    -1.0925484305920792,
    0.5462742152960396,
)
SH_C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)
