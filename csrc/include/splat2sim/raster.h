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
#ifdef __CUDA_ARCH__
  vis = exp(-sigma);
#else
  vis = std::exp(-sigma);  // the float overload for float: plain exp() is the double one, at twice the cost
#endif
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

// Smallest sigma of a Gaussian over the box of pixel centres [x0, x1] x [y0, y1], in double:
// the minimum of a convex quadratic over a box is 0 when the mean is inside, else on one
// of the four edges, where it is a 1-D quadratic clamped to the edge. Returns 0 (never
// cull) when the conic is not positive definite.
inline double tile_min_sigma(double mx, double my, double a, double b, double c, double x0, double x1,
                             double y0, double y1) {
  if (!(a > 0) || !(c > 0) || !(a * c - b * b > 0)) return 0.0;
  // offsets d = mean - pixel range over [dx0, dx1] x [dy0, dy1]
  const double dx0 = mx - x1, dx1 = mx - x0, dy0 = my - y1, dy1 = my - y0;
  if (dx0 <= 0 && dx1 >= 0 && dy0 <= 0 && dy1 >= 0) return 0.0;
  auto q = [&](double dx, double dy) { return 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy; };
  auto clampd = [](double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); };
  double best = q(dx0, clampd(-b * dx0 / c, dy0, dy1));
  best = fmin(best, q(dx1, clampd(-b * dx1 / c, dy0, dy1)));
  best = fmin(best, q(clampd(-b * dy0 / a, dx0, dx1), dy0));
  best = fmin(best, q(clampd(-b * dy1 / a, dx0, dx1), dy1));
  return best;
}

// True when a Gaussian cannot reach ALPHA_MIN at any pixel centre of the box, with a margin
// far above the rounding of the per-pixel sigma: the kernels would skip it at every pixel,
// so leaving it out of a tile's list changes no output. cut = log(opacity / ALPHA_MIN);
// a NaN cut (opacity <= 0 or NaN) never culls.
inline bool tile_culls(double min_sigma, double cut) { return min_sigma > cut + 1e-2 + 1e-4 * fabs(cut); }

}  // namespace s2s
