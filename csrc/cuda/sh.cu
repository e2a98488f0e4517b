// Spherical-harmonics colours (forward and VJP) with the basis of
// csrc/include/splat2sim/sh.h, shared with the CPU kernels.
#include "common.cuh"
#include "splat2sim/sh.h"

namespace s2s {
namespace cuda {

namespace {

template <typename T>
__global__ void sh_forward_kernel(int degree, int K, int C, int N, const T* __restrict__ dirs,
                                  const T* __restrict__ coeffs, T* __restrict__ colors) {
  const int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (int64_t)C * N) return;
  const int64_t n = idx % N;
  const int B = sh_num_bases(degree);
  T b[16];
  sh_basis(degree, dirs[idx * 3 + 0], dirs[idx * 3 + 1], dirs[idx * 3 + 2], b);
  const T* co = coeffs + n * K * 3;
  T acc[3] = {0, 0, 0};
  for (int k = 0; k < B; ++k) {
    acc[0] += b[k] * co[k * 3 + 0];
    acc[1] += b[k] * co[k * 3 + 1];
    acc[2] += b[k] * co[k * 3 + 2];
  }
  colors[idx * 3 + 0] = acc[0];
  colors[idx * 3 + 1] = acc[1];
  colors[idx * 3 + 2] = acc[2];
}

// One thread per Gaussian, cameras in the inner loop: g_coeffs rows are written whole.
template <typename T>
__global__ void sh_backward_kernel(int degree, int K, int C, int N, const T* __restrict__ dirs,
                                   const T* __restrict__ coeffs, const T* __restrict__ g_colors,
                                   T* __restrict__ g_dirs, T* __restrict__ g_coeffs) {
  const int64_t n = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= N) return;
  const int B = sh_num_bases(degree);
  const T* co = coeffs + n * K * 3;
  T gco[16 * 3];
  for (int i = 0; i < 16 * 3; ++i) gco[i] = 0;
  for (int c = 0; c < C; ++c) {
    const int64_t idx = (int64_t)c * N + n;
    const T x = dirs[idx * 3 + 0], y = dirs[idx * 3 + 1], z = dirs[idx * 3 + 2];
    const T g0 = g_colors[idx * 3 + 0], g1 = g_colors[idx * 3 + 1], g2 = g_colors[idx * 3 + 2];
    T b[16], bx[16], by[16], bz[16];
    sh_basis(degree, x, y, z, b);
    sh_basis_grad(degree, x, y, z, bx, by, bz);
    T gd[3] = {0, 0, 0};
    for (int k = 0; k < B; ++k) {
      const T gk = g0 * co[k * 3 + 0] + g1 * co[k * 3 + 1] + g2 * co[k * 3 + 2];
      gd[0] += gk * bx[k];
      gd[1] += gk * by[k];
      gd[2] += gk * bz[k];
      gco[k * 3 + 0] += b[k] * g0;
      gco[k * 3 + 1] += b[k] * g1;
      gco[k * 3 + 2] += b[k] * g2;
    }
    g_dirs[idx * 3 + 0] = gd[0];
    g_dirs[idx * 3 + 1] = gd[1];
    g_dirs[idx * 3 + 2] = gd[2];
  }
  T* out = g_coeffs + n * K * 3;
  for (int i = 0; i < K * 3; ++i) out[i] = i < B * 3 ? gco[i] : T(0);
}

}  // namespace

template <typename T>
int sh_forward(int degree, int K, int C, int N, const T* dirs, const T* coeffs, T* colors, void* stream) {
  if (degree < 0 || degree > 3 || sh_num_bases(degree) > K) return ERROR_BAD_ARGUMENT;
  const int64_t total = (int64_t)C * N;
  if (total == 0) return 0;
  sh_forward_kernel<T><<<grid_for(total), BLOCK, 0, as_stream(stream)>>>(degree, K, C, N, dirs, coeffs, colors);
  return last_error();
}

template <typename T>
int sh_backward(int degree, int K, int C, int N, const T* dirs, const T* coeffs, const T* g_colors, T* g_dirs,
                T* g_coeffs, void* stream) {
  if (degree < 0 || degree > 3 || sh_num_bases(degree) > K) return ERROR_BAD_ARGUMENT;
  if (N == 0) return 0;
  sh_backward_kernel<T><<<grid_for(N), BLOCK, 0, as_stream(stream)>>>(degree, K, C, N, dirs, coeffs, g_colors,
                                                                      g_dirs, g_coeffs);
  return last_error();
}

template int sh_forward<float>(int, int, int, int, const float*, const float*, float*, void*);
template int sh_forward<double>(int, int, int, int, const double*, const double*, double*, void*);
template int sh_backward<float>(int, int, int, int, const float*, const float*, const float*, float*, float*, void*);
template int sh_backward<double>(int, int, int, int, const double*, const double*, const double*, double*, double*,
                                 void*);

}  // namespace cuda
}  // namespace s2s
