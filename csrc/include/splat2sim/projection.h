// Projection of a 3D Gaussian to the image: EWA splatting with the perspective Jacobian,
// +EPS2D low-pass dilation, conic (inverse 2D covariance) and a 3-sigma radius.
// Forward and vector-Jacobian product (VJP) per Gaussian and camera.
#pragma once

#include "splat2sim/common.h"

namespace s2s {

// q: unit quaternion (w, x, y, z) -> R [3][3] (row-major, R[row][col]).
template <typename T>
HOST_DEVICE void quat_to_rotmat(const T q[4], T R[3][3]) {
  const T w = q[0], x = q[1], y = q[2], z = q[3];
  R[0][0] = 1 - 2 * (y * y + z * z);
  R[0][1] = 2 * (x * y - w * z);
  R[0][2] = 2 * (x * z + w * y);
  R[1][0] = 2 * (x * y + w * z);
  R[1][1] = 1 - 2 * (x * x + z * z);
  R[1][2] = 2 * (y * z - w * x);
  R[2][0] = 2 * (x * z - w * y);
  R[2][1] = 2 * (y * z + w * x);
  R[2][2] = 1 - 2 * (x * x + y * y);
}

// VJP of quat_to_rotmat: G = dL/dR [3][3] -> dL/dq [4] (q unit, treated as free).
template <typename T>
HOST_DEVICE void quat_to_rotmat_vjp(const T q[4], const T G[3][3], T gq[4]) {
  const T w = q[0], x = q[1], y = q[2], z = q[3];
  gq[0] = 2 * (x * (G[2][1] - G[1][2]) + y * (G[0][2] - G[2][0]) + z * (G[1][0] - G[0][1]));
  gq[1] = 2 * (-2 * x * (G[1][1] + G[2][2]) + y * (G[0][1] + G[1][0]) + z * (G[0][2] + G[2][0]) +
               w * (G[2][1] - G[1][2]));
  gq[2] = 2 * (x * (G[0][1] + G[1][0]) - 2 * y * (G[0][0] + G[2][2]) + z * (G[1][2] + G[2][1]) +
               w * (G[0][2] - G[2][0]));
  gq[3] = 2 * (x * (G[0][2] + G[2][0]) + y * (G[1][2] + G[2][1]) - 2 * z * (G[0][0] + G[1][1]) +
               w * (G[1][0] - G[0][1]));
}

// What the forward pass computes and the VJP reuses.
template <typename T>
struct ProjectionState {
  T pc[3];        // mean in camera coordinates
  T qn[4];        // normalized quaternion
  T qnorm;        // |q|
  T Rq[3][3];     // rotation of the Gaussian
  T s[3];         // scales = exp(log_scales)
  T M[3][3];      // Rq * diag(s); Sigma_world = M M^T
  T cov_c[3][3];  // covariance in camera coordinates
  T J[2][3];      // perspective Jacobian at the (clamped) mean
  T tx, ty;       // clamped camera x, y used by J
  bool clip_x, clip_y;
  T cov2d[3];     // (a, b, c) of [[a, b], [b, c]], dilation included
  T conic[3];     // inverse of cov2d, same layout
};

// mean [3], quat [4] (w,x,y,z, any norm), log_scale [3], viewmat [16] camera_from_world
// row-major, intrinsics fx fy cx cy, image width/height. Writes mean2d [2] (pixels,
// pixel (i, j) centre at (j + 0.5, i + 0.5)), conic [3], depth (camera z), radius (pixels).
// Returns false when the Gaussian is culled (outside near/far, degenerate, off-screen).
template <typename T>
HOST_DEVICE bool project_gaussian(const T* mean, const T* quat, const T* log_scale, const T* viewmat,
                                  T fx, T fy, T cx, T cy, int width, int height, T near_plane,
                                  T far_plane, ProjectionState<T>& st, T mean2d[2], T conic[3],
                                  T& depth, int& radius) {
  for (int i = 0; i < 3; ++i) {
    st.pc[i] = viewmat[i * 4 + 0] * mean[0] + viewmat[i * 4 + 1] * mean[1] +
               viewmat[i * 4 + 2] * mean[2] + viewmat[i * 4 + 3];
  }
  const T z = st.pc[2];
  if (!(z > near_plane && z < far_plane)) return false;

  st.qnorm = sqrt(quat[0] * quat[0] + quat[1] * quat[1] + quat[2] * quat[2] + quat[3] * quat[3]);
  for (int i = 0; i < 4; ++i) st.qn[i] = quat[i] / st.qnorm;
  quat_to_rotmat(st.qn, st.Rq);
  for (int i = 0; i < 3; ++i) st.s[i] = exp(log_scale[i]);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) st.M[i][j] = st.Rq[i][j] * st.s[j];
  T cov[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      cov[i][j] = st.M[i][0] * st.M[j][0] + st.M[i][1] * st.M[j][1] + st.M[i][2] * st.M[j][2];
  // cov_c = W cov W^T with W the rotation part of viewmat
  T tmp[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      tmp[i][j] = viewmat[i * 4 + 0] * cov[0][j] + viewmat[i * 4 + 1] * cov[1][j] +
                  viewmat[i * 4 + 2] * cov[2][j];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      st.cov_c[i][j] = tmp[i][0] * viewmat[j * 4 + 0] + tmp[i][1] * viewmat[j * 4 + 1] +
                       tmp[i][2] * viewmat[j * 4 + 2];

  const T tan_fovx = T(0.5) * T(width) / fx;
  const T tan_fovy = T(0.5) * T(height) / fy;
  const T lim_xp = (T(width) - cx) / fx + T(FOV_MARGIN) * tan_fovx;
  const T lim_xn = cx / fx + T(FOV_MARGIN) * tan_fovx;
  const T lim_yp = (T(height) - cy) / fy + T(FOV_MARGIN) * tan_fovy;
  const T lim_yn = cy / fy + T(FOV_MARGIN) * tan_fovy;
  const T xz = st.pc[0] / z, yz = st.pc[1] / z;
  st.clip_x = !(xz >= -lim_xn && xz <= lim_xp);
  st.clip_y = !(yz >= -lim_yn && yz <= lim_yp);
  st.tx = z * clamp_val(xz, -lim_xn, lim_xp);
  st.ty = z * clamp_val(yz, -lim_yn, lim_yp);
  st.J[0][0] = fx / z;
  st.J[0][1] = 0;
  st.J[0][2] = -fx * st.tx / (z * z);
  st.J[1][0] = 0;
  st.J[1][1] = fy / z;
  st.J[1][2] = -fy * st.ty / (z * z);

  T JC[2][3];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      JC[i][j] = st.J[i][0] * st.cov_c[0][j] + st.J[i][1] * st.cov_c[1][j] + st.J[i][2] * st.cov_c[2][j];
  const T a = JC[0][0] * st.J[0][0] + JC[0][1] * st.J[0][1] + JC[0][2] * st.J[0][2] + T(EPS2D);
  const T b = JC[0][0] * st.J[1][0] + JC[0][1] * st.J[1][1] + JC[0][2] * st.J[1][2];
  const T c = JC[1][0] * st.J[1][0] + JC[1][1] * st.J[1][1] + JC[1][2] * st.J[1][2] + T(EPS2D);
  st.cov2d[0] = a;
  st.cov2d[1] = b;
  st.cov2d[2] = c;
  const T det = a * c - b * b;
  if (!(det > 0)) return false;
  st.conic[0] = c / det;
  st.conic[1] = -b / det;
  st.conic[2] = a / det;

  const T u = fx * st.pc[0] / z + cx;
  const T v = fy * st.pc[1] / z + cy;
  const T mid = T(0.5) * (a + c);
  T disc = mid * mid - det;
  if (disc < T(0.1)) disc = T(0.1);
  const T lambda = mid + sqrt(disc);
  const int r = (int)ceil(T(3) * sqrt(lambda));
  if (r <= 0) return false;
  if (u + T(r) <= 0 || u - T(r) >= T(width) || v + T(r) <= 0 || v - T(r) >= T(height)) return false;

  mean2d[0] = u;
  mean2d[1] = v;
  conic[0] = st.conic[0];
  conic[1] = st.conic[1];
  conic[2] = st.conic[2];
  depth = z;
  radius = r;
  return true;
}

// VJP of project_gaussian for a Gaussian it kept. Adds into g_mean [3], g_quat [4],
// g_log_scale [3] the gradients from g_mean2d [2], g_conic [3], g_depth.
template <typename T>
HOST_DEVICE void project_gaussian_vjp(const ProjectionState<T>& st, const T* viewmat, T fx, T fy,
                                      const T g_mean2d[2], const T g_conic[3], T g_depth, T g_mean[3],
                                      T g_quat[4], T g_log_scale[3]) {
  const T z = st.pc[2];
  const T rz = T(1) / z, rz2 = rz * rz, rz3 = rz2 * rz;
  T g_pc[3] = {0, 0, 0};
  // mean2d = (fx x / z + cx, fy y / z + cy)
  g_pc[0] += fx * rz * g_mean2d[0];
  g_pc[1] += fy * rz * g_mean2d[1];
  g_pc[2] += -(fx * st.pc[0] * g_mean2d[0] + fy * st.pc[1] * g_mean2d[1]) * rz2;
  g_pc[2] += g_depth;

  // conic = inverse(cov2d): G_cov = -Q G_Q Q with G_Q = [[ga, gb/2], [gb/2, gc]]
  const T Q[2][2] = {{st.conic[0], st.conic[1]}, {st.conic[1], st.conic[2]}};
  const T GQ[2][2] = {{g_conic[0], T(0.5) * g_conic[1]}, {T(0.5) * g_conic[1], g_conic[2]}};
  T QG[2][2], Gc[2][2];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) QG[i][j] = Q[i][0] * GQ[0][j] + Q[i][1] * GQ[1][j];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) Gc[i][j] = -(QG[i][0] * Q[0][j] + QG[i][1] * Q[1][j]);

  // cov2d = J cov_c J^T + eps I: G_J = 2 Gc J cov_c, G_covc = J^T Gc J
  T GJ[2][3];
  {
    T JC[2][3];
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j)
        JC[i][j] = st.J[i][0] * st.cov_c[0][j] + st.J[i][1] * st.cov_c[1][j] + st.J[i][2] * st.cov_c[2][j];
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) GJ[i][j] = 2 * (Gc[i][0] * JC[0][j] + Gc[i][1] * JC[1][j]);
  }
  T Gcc[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      T acc = 0;
      for (int k = 0; k < 2; ++k)
        for (int l = 0; l < 2; ++l) acc += st.J[k][i] * Gc[k][l] * st.J[l][j];
      Gcc[i][j] = acc;
    }

  // J = [[fx/z, 0, -fx tx/z^2], [0, fy/z, -fy ty/z^2]], tx = z clamp(x/z)
  if (!st.clip_x) {
    g_pc[0] += -fx * rz2 * GJ[0][2];
  } else {
    g_pc[2] += -fx * rz3 * GJ[0][2] * st.tx;
  }
  if (!st.clip_y) {
    g_pc[1] += -fy * rz2 * GJ[1][2];
  } else {
    g_pc[2] += -fy * rz3 * GJ[1][2] * st.ty;
  }
  g_pc[2] += -fx * rz2 * GJ[0][0] - fy * rz2 * GJ[1][1] + 2 * fx * st.tx * rz3 * GJ[0][2] +
             2 * fy * st.ty * rz3 * GJ[1][2];

  // pc = W mean + t
  for (int j = 0; j < 3; ++j)
    g_mean[j] += viewmat[0 * 4 + j] * g_pc[0] + viewmat[1 * 4 + j] * g_pc[1] + viewmat[2 * 4 + j] * g_pc[2];

  // cov_c = W cov W^T: G_cov = W^T Gcc W
  T tmp[3][3], Gcov[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      tmp[i][j] = viewmat[0 * 4 + i] * Gcc[0][j] + viewmat[1 * 4 + i] * Gcc[1][j] + viewmat[2 * 4 + i] * Gcc[2][j];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      Gcov[i][j] = tmp[i][0] * viewmat[0 * 4 + j] + tmp[i][1] * viewmat[1 * 4 + j] + tmp[i][2] * viewmat[2 * 4 + j];
  // cov = M M^T: G_M = (Gcov + Gcov^T) M
  T GM[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      T acc = 0;
      for (int k = 0; k < 3; ++k) acc += (Gcov[i][k] + Gcov[k][i]) * st.M[k][j];
      GM[i][j] = acc;
    }
  // M = Rq diag(s)
  T GR[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) GR[i][j] = GM[i][j] * st.s[j];
  for (int j = 0; j < 3; ++j) {
    const T gs = GM[0][j] * st.Rq[0][j] + GM[1][j] * st.Rq[1][j] + GM[2][j] * st.Rq[2][j];
    g_log_scale[j] += gs * st.s[j];
  }
  T gqn[4];
  quat_to_rotmat_vjp(st.qn, GR, gqn);
  const T dot = gqn[0] * st.qn[0] + gqn[1] * st.qn[1] + gqn[2] * st.qn[2] + gqn[3] * st.qn[3];
  for (int i = 0; i < 4; ++i) g_quat[i] += (gqn[i] - st.qn[i] * dot) / st.qnorm;
}

}  // namespace s2s
