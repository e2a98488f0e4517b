// Real spherical harmonics up to degree 3, with the signs and constants of 3DGS
// (eval_sh in graphdeco-inria/gaussian-splatting). The colour of a Gaussian seen along
// the unit direction d = (x, y, z) (from the camera centre to the mean, world frame) is
// sum_k basis_k(d) * coeffs[k]; the renderer then adds 0.5 and clamps at 0.
#pragma once

#include "splat2sim/common.h"

namespace s2s {

constexpr double SH_C0 = 0.28209479177387814;
constexpr double SH_C1 = 0.4886025119029199;
// (scalars, not arrays: namespace-scope constexpr arrays are not usable in CUDA device code)
constexpr double SH_C2_0 = 1.0925484305920792;
constexpr double SH_C2_1 = -1.0925484305920792;
constexpr double SH_C2_2 = 0.31539156525252005;
constexpr double SH_C2_3 = -1.0925484305920792;
constexpr double SH_C2_4 = 0.5462742152960396;
constexpr double SH_C3_0 = -0.5900435899266435;
constexpr double SH_C3_1 = 2.890611442640554;
constexpr double SH_C3_2 = -0.4570457994644658;
constexpr double SH_C3_3 = 0.3731763325901154;
constexpr double SH_C3_4 = -0.4570457994644658;
constexpr double SH_C3_5 = 1.445305721320277;
constexpr double SH_C3_6 = -0.5900435899266435;

HOST_DEVICE int sh_num_bases(int degree) { return (degree + 1) * (degree + 1); }

// b [(degree+1)^2]: the basis functions at the unit direction (x, y, z).
template <typename T>
HOST_DEVICE void sh_basis(int degree, T x, T y, T z, T* b) {
  b[0] = T(SH_C0);
  if (degree < 1) return;
  b[1] = -T(SH_C1) * y;
  b[2] = T(SH_C1) * z;
  b[3] = -T(SH_C1) * x;
  if (degree < 2) return;
  const T xx = x * x, yy = y * y, zz = z * z;
  b[4] = T(SH_C2_0) * x * y;
  b[5] = T(SH_C2_1) * y * z;
  b[6] = T(SH_C2_2) * (2 * zz - xx - yy);
  b[7] = T(SH_C2_3) * x * z;
  b[8] = T(SH_C2_4) * (xx - yy);
  if (degree < 3) return;
  b[9] = T(SH_C3_0) * y * (3 * xx - yy);
  b[10] = T(SH_C3_1) * x * y * z;
  b[11] = T(SH_C3_2) * y * (4 * zz - xx - yy);
  b[12] = T(SH_C3_3) * z * (2 * zz - 3 * xx - 3 * yy);
  b[13] = T(SH_C3_4) * x * (4 * zz - xx - yy);
  b[14] = T(SH_C3_5) * z * (xx - yy);
  b[15] = T(SH_C3_6) * x * (xx - 3 * yy);
}

// Partial derivatives of the basis w.r.t. x, y, z (the direction treated as free; the
// caller chains through the normalization).
template <typename T>
HOST_DEVICE void sh_basis_grad(int degree, T x, T y, T z, T* bx, T* by, T* bz) {
  bx[0] = by[0] = bz[0] = 0;
  if (degree < 1) return;
  const T c1 = T(SH_C1);
  bx[1] = 0;    by[1] = -c1;  bz[1] = 0;
  bx[2] = 0;    by[2] = 0;    bz[2] = c1;
  bx[3] = -c1;  by[3] = 0;    bz[3] = 0;
  if (degree < 2) return;
  const T xx = x * x, yy = y * y, zz = z * z;
  bx[4] = T(SH_C2_0) * y;       by[4] = T(SH_C2_0) * x;       bz[4] = 0;
  bx[5] = 0;                     by[5] = T(SH_C2_1) * z;       bz[5] = T(SH_C2_1) * y;
  bx[6] = T(SH_C2_2) * -2 * x;  by[6] = T(SH_C2_2) * -2 * y;  bz[6] = T(SH_C2_2) * 4 * z;
  bx[7] = T(SH_C2_3) * z;       by[7] = 0;                     bz[7] = T(SH_C2_3) * x;
  bx[8] = T(SH_C2_4) * 2 * x;   by[8] = T(SH_C2_4) * -2 * y;  bz[8] = 0;
  if (degree < 3) return;
  bx[9] = T(SH_C3_0) * 6 * x * y;
  by[9] = T(SH_C3_0) * (3 * xx - 3 * yy);
  bz[9] = 0;
  bx[10] = T(SH_C3_1) * y * z;
  by[10] = T(SH_C3_1) * x * z;
  bz[10] = T(SH_C3_1) * x * y;
  bx[11] = T(SH_C3_2) * -2 * x * y;
  by[11] = T(SH_C3_2) * (4 * zz - xx - 3 * yy);
  bz[11] = T(SH_C3_2) * 8 * y * z;
  bx[12] = T(SH_C3_3) * -6 * x * z;
  by[12] = T(SH_C3_3) * -6 * y * z;
  bz[12] = T(SH_C3_3) * (6 * zz - 3 * xx - 3 * yy);
  bx[13] = T(SH_C3_4) * (4 * zz - 3 * xx - yy);
  by[13] = T(SH_C3_4) * -2 * x * y;
  bz[13] = T(SH_C3_4) * 8 * x * z;
  bx[14] = T(SH_C3_5) * 2 * x * z;
  by[14] = T(SH_C3_5) * -2 * y * z;
  bz[14] = T(SH_C3_5) * (xx - yy);
  bx[15] = T(SH_C3_6) * (3 * xx - 3 * yy);
  by[15] = T(SH_C3_6) * -6 * x * y;
  bz[15] = 0;
}

}  // namespace s2s
