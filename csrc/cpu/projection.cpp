#include "kernels.h"

#include "splat2sim/projection.h"

namespace s2s {
namespace cpu {

template <typename T>
void project_forward(int C, int N, const T* means, const T* quats, const T* log_scales,
                     const T* viewmats, const T* intrinsics, int width, int height, T near_plane,
                     T far_plane, T* means2d, T* conics, T* depths, int32_t* radii) {
#pragma omp parallel for schedule(static)
  for (int64_t idx = 0; idx < (int64_t)C * N; ++idx) {
    const int c = (int)(idx / N), n = (int)(idx % N);
    const T* K = intrinsics + c * 4;
    ProjectionState<T> st;
    T m2[2], con[3], depth;
    int r;
    const bool ok = project_gaussian(means + n * 3, quats + n * 4, log_scales + n * 3, viewmats + c * 16,
                                     K[0], K[1], K[2], K[3], width, height, near_plane, far_plane, st, m2,
                                     con, depth, r);
    if (ok) {
      means2d[idx * 2 + 0] = m2[0];
      means2d[idx * 2 + 1] = m2[1];
      for (int i = 0; i < 3; ++i) conics[idx * 3 + i] = con[i];
      depths[idx] = depth;
      radii[idx] = r;
    } else {
      means2d[idx * 2 + 0] = means2d[idx * 2 + 1] = 0;
      conics[idx * 3 + 0] = conics[idx * 3 + 1] = conics[idx * 3 + 2] = 0;
      depths[idx] = 0;
      radii[idx] = 0;
    }
  }
}

template <typename T>
void project_backward(int C, int N, const T* means, const T* quats, const T* log_scales,
                      const T* viewmats, const T* intrinsics, int width, int height, T near_plane,
                      T far_plane, const int32_t* radii, const T* g_means2d, const T* g_conics,
                      const T* g_depths, T* g_means, T* g_quats, T* g_log_scales) {
  // One thread per Gaussian, cameras in the inner loop: no two threads write the same row.
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    T gm[3] = {0, 0, 0}, gq[4] = {0, 0, 0, 0}, gs[3] = {0, 0, 0};
    for (int c = 0; c < C; ++c) {
      const int64_t idx = (int64_t)c * N + n;
      if (radii[idx] <= 0) continue;
      const T* K = intrinsics + c * 4;
      ProjectionState<T> st;
      T m2[2], con[3], depth;
      int r;
      project_gaussian(means + n * 3, quats + n * 4, log_scales + n * 3, viewmats + c * 16, K[0], K[1],
                       K[2], K[3], width, height, near_plane, far_plane, st, m2, con, depth, r);
      project_gaussian_vjp(st, viewmats + c * 16, K[0], K[1], g_means2d + idx * 2, g_conics + idx * 3,
                           g_depths[idx], gm, gq, gs);
    }
    for (int i = 0; i < 3; ++i) g_means[n * 3 + i] = gm[i];
    for (int i = 0; i < 4; ++i) g_quats[n * 4 + i] = gq[i];
    for (int i = 0; i < 3; ++i) g_log_scales[n * 3 + i] = gs[i];
  }
}

template void project_forward<float>(int, int, const float*, const float*, const float*, const float*,
                                     const float*, int, int, float, float, float*, float*, float*,
                                     int32_t*);
template void project_forward<double>(int, int, const double*, const double*, const double*,
                                      const double*, const double*, int, int, double, double, double*,
                                      double*, double*, int32_t*);
template void project_backward<float>(int, int, const float*, const float*, const float*, const float*,
                                      const float*, int, int, float, float, const int32_t*,
                                      const float*, const float*, const float*, float*, float*, float*);
template void project_backward<double>(int, int, const double*, const double*, const double*,
                                       const double*, const double*, int, int, double, double,
                                       const int32_t*, const double*, const double*, const double*,
                                       double*, double*, double*);

}  // namespace cpu
}  // namespace s2s
