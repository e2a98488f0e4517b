// Projection of 3D Gaussians to the image (forward and VJP), one thread per Gaussian and
// camera (forward) or per Gaussian (backward, cameras in the inner loop so that no two
// threads write the same gradient row). The math is csrc/include/splat2sim/projection.h,
// the same functions the CPU kernels call.
#include "common.cuh"
#include "splat2sim/projection.h"

namespace s2s {
namespace cuda {

namespace {

template <typename T>
__global__ void project_forward_kernel(int C, int N, const T* __restrict__ means, const T* __restrict__ quats,
                                       const T* __restrict__ log_scales, const T* __restrict__ viewmats,
                                       const T* __restrict__ intrinsics, int width, int height, T near_plane,
                                       T far_plane, T* __restrict__ means2d, T* __restrict__ conics,
                                       T* __restrict__ depths, int32_t* __restrict__ radii) {
  const int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (int64_t)C * N) return;
  const int c = (int)(idx / N), n = (int)(idx % N);
  const T* K = intrinsics + c * 4;
  ProjectionState<T> st;
  T m2[2], con[3], depth;
  int r;
  const bool ok = project_gaussian(means + (int64_t)n * 3, quats + (int64_t)n * 4, log_scales + (int64_t)n * 3,
                                   viewmats + c * 16, K[0], K[1], K[2], K[3], width, height, near_plane, far_plane,
                                   st, m2, con, depth, r);
  if (ok) {
    means2d[idx * 2 + 0] = m2[0];
    means2d[idx * 2 + 1] = m2[1];
    conics[idx * 3 + 0] = con[0];
    conics[idx * 3 + 1] = con[1];
    conics[idx * 3 + 2] = con[2];
    depths[idx] = depth;
    radii[idx] = r;
  } else {
    means2d[idx * 2 + 0] = means2d[idx * 2 + 1] = 0;
    conics[idx * 3 + 0] = conics[idx * 3 + 1] = conics[idx * 3 + 2] = 0;
    depths[idx] = 0;
    radii[idx] = 0;
  }
}

template <typename T>
__global__ void project_backward_kernel(int C, int N, const T* __restrict__ means, const T* __restrict__ quats,
                                        const T* __restrict__ log_scales, const T* __restrict__ viewmats,
                                        const T* __restrict__ intrinsics, int width, int height, T near_plane,
                                        T far_plane, const int32_t* __restrict__ radii,
                                        const T* __restrict__ g_means2d, const T* __restrict__ g_conics,
                                        const T* __restrict__ g_depths, T* __restrict__ g_means,
                                        T* __restrict__ g_quats, T* __restrict__ g_log_scales) {
  const int64_t n = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= N) return;
  T gm[3] = {0, 0, 0}, gq[4] = {0, 0, 0, 0}, gs[3] = {0, 0, 0};
  for (int c = 0; c < C; ++c) {
    const int64_t idx = (int64_t)c * N + n;
    if (radii[idx] <= 0) continue;
    const T* K = intrinsics + c * 4;
    ProjectionState<T> st;
    T m2[2], con[3], depth;
    int r;
    project_gaussian(means + n * 3, quats + n * 4, log_scales + n * 3, viewmats + c * 16, K[0], K[1], K[2], K[3],
                     width, height, near_plane, far_plane, st, m2, con, depth, r);
    project_gaussian_vjp(st, viewmats + c * 16, K[0], K[1], g_means2d + idx * 2, g_conics + idx * 3, g_depths[idx],
                         gm, gq, gs);
  }
  for (int i = 0; i < 3; ++i) g_means[n * 3 + i] = gm[i];
  for (int i = 0; i < 4; ++i) g_quats[n * 4 + i] = gq[i];
  for (int i = 0; i < 3; ++i) g_log_scales[n * 3 + i] = gs[i];
}

}  // namespace

template <typename T>
int project_forward(int C, int N, const T* means, const T* quats, const T* log_scales, const T* viewmats,
                    const T* intrinsics, int width, int height, T near_plane, T far_plane, T* means2d, T* conics,
                    T* depths, int32_t* radii, void* stream) {
  const int64_t total = (int64_t)C * N;
  if (total == 0) return 0;
  project_forward_kernel<T><<<grid_for(total), BLOCK, 0, as_stream(stream)>>>(
      C, N, means, quats, log_scales, viewmats, intrinsics, width, height, near_plane, far_plane, means2d, conics,
      depths, radii);
  return last_error();
}

template <typename T>
int project_backward(int C, int N, const T* means, const T* quats, const T* log_scales, const T* viewmats,
                     const T* intrinsics, int width, int height, T near_plane, T far_plane, const int32_t* radii,
                     const T* g_means2d, const T* g_conics, const T* g_depths, T* g_means, T* g_quats,
                     T* g_log_scales, void* stream) {
  if (N == 0) return 0;
  project_backward_kernel<T><<<grid_for(N), BLOCK, 0, as_stream(stream)>>>(
      C, N, means, quats, log_scales, viewmats, intrinsics, width, height, near_plane, far_plane, radii, g_means2d,
      g_conics, g_depths, g_means, g_quats, g_log_scales);
  return last_error();
}

const char* error_string(int code) {
  if (code == ERROR_TOO_MANY_INTERSECTIONS)
    return "more than 2^31 - 1 (tile, Gaussian) intersections: render fewer or smaller Gaussians, or a smaller image";
  if (code == ERROR_BAD_ARGUMENT) return "an argument is outside what the CUDA kernels handle";
  return cudaGetErrorString((cudaError_t)code);
}

int compiled_arch() {
  cudaFuncAttributes attr;
  if (cudaFuncGetAttributes(&attr, project_forward_kernel<float>) != cudaSuccess) {
    cudaGetLastError();  // clear it, so that the next launch reports its own error
    return 0;
  }
  return attr.binaryVersion * 10;
}

#define S2S_INSTANTIATE(T)                                                                                    \
  template int project_forward<T>(int, int, const T*, const T*, const T*, const T*, const T*, int, int, T, T, \
                                  T*, T*, T*, int32_t*, void*);                                              \
  template int project_backward<T>(int, int, const T*, const T*, const T*, const T*, const T*, int, int, T, T, \
                                   const int32_t*, const T*, const T*, const T*, T*, T*, T*, void*);
S2S_INSTANTIATE(float)
S2S_INSTANTIATE(double)
#undef S2S_INSTANTIATE

}  // namespace cuda
}  // namespace s2s
