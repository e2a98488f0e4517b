// Per-pixel evaluation of one projected Gaussian, shared by the compositing kernels.
#pragma once

#include "splat2sim/common.h"

namespace s2s {

// mean2d [2], conic [3] = (a, b, c) of [[a, b], [b, c]], pixel centre (px, py).
// Returns sigma = 0.5 (a dx^2 + c dy^2) + b dx dy with (dx, dy) = mean2d - pixel; the
// Gaussian's weight at the pixel is exp(-sigma).
template <typename T>
HOST_DEVICE T gaussian_sigma(const T* mean2d, const T* conic, T px, T py, T& dx, T& dy) {
  dx = mean2d[0] - px;
  dy = mean2d[1] - py;
  return T(0.5) * (conic[0] * dx * dx + conic[2] * dy * dy) + conic[1] * dx * dy;
}

// alpha = min(ALPHA_MAX, opacity exp(-sigma)). Sets `clamped` when the clamp is active
// (no gradient flows to opacity and sigma then).
template <typename T>
HOST_DEVICE T gaussian_alpha(T opacity, T sigma, T& vis, bool& clamped) {
  vis = exp(-sigma);
  const T raw = opacity * vis;
  clamped = raw > T(ALPHA_MAX);
  return clamped ? T(ALPHA_MAX) : raw;
}

// VJP of alpha w.r.t. opacity, mean2d and conic for a pixel at offset (dx, dy).
template <typename T>
HOST_DEVICE void gaussian_alpha_vjp(T opacity, T vis, const T* conic, T dx, T dy, T g_alpha,
                                    T& g_opacity, T g_mean2d[2], T g_conic[3]) {
  g_opacity += vis * g_alpha;
  const T g_sigma = -opacity * vis * g_alpha;
  g_conic[0] += T(0.5) * g_sigma * dx * dx;
  g_conic[1] += g_sigma * dx * dy;
  g_conic[2] += T(0.5) * g_sigma * dy * dy;
  g_mean2d[0] += g_sigma * (conic[0] * dx + conic[1] * dy);
  g_mean2d[1] += g_sigma * (conic[1] * dx + conic[2] * dy);
}

}  // namespace s2s
