#include "kernels.h"

#include "splat2sim/sh.h"

namespace s2s {
namespace cpu {

template <typename T>
void sh_forward(int degree, int K, int C, int N, const T* dirs, const T* coeffs, T* colors) {
  const int B = sh_num_bases(degree);
#pragma omp parallel for schedule(static)
  for (int64_t idx = 0; idx < (int64_t)C * N; ++idx) {
    const int n = (int)(idx % N);
    T b[16];
    sh_basis(degree, dirs[idx * 3 + 0], dirs[idx * 3 + 1], dirs[idx * 3 + 2], b);
    const T* co = coeffs + (int64_t)n * K * 3;
    for (int ch = 0; ch < 3; ++ch) {
      T acc = 0;
      for (int k = 0; k < B; ++k) acc += b[k] * co[k * 3 + ch];
      colors[idx * 3 + ch] = acc;
    }
  }
}

template <typename T>
void sh_backward(int degree, int K, int C, int N, const T* dirs, const T* coeffs, const T* g_colors,
                 T* g_dirs, T* g_coeffs) {
  const int B = sh_num_bases(degree);
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const T* co = coeffs + (int64_t)n * K * 3;
    T* gco = g_coeffs + (int64_t)n * K * 3;
    for (int i = 0; i < K * 3; ++i) gco[i] = 0;
    for (int c = 0; c < C; ++c) {
      const int64_t idx = (int64_t)c * N + n;
      const T x = dirs[idx * 3 + 0], y = dirs[idx * 3 + 1], z = dirs[idx * 3 + 2];
      const T* g = g_colors + idx * 3;
      T b[16], bx[16], by[16], bz[16];
      sh_basis(degree, x, y, z, b);
      sh_basis_grad(degree, x, y, z, bx, by, bz);
      T gd[3] = {0, 0, 0};
      for (int k = 0; k < B; ++k) {
        const T gk = g[0] * co[k * 3 + 0] + g[1] * co[k * 3 + 1] + g[2] * co[k * 3 + 2];
        gd[0] += gk * bx[k];
        gd[1] += gk * by[k];
        gd[2] += gk * bz[k];
        for (int ch = 0; ch < 3; ++ch) gco[k * 3 + ch] += b[k] * g[ch];
      }
      for (int i = 0; i < 3; ++i) g_dirs[idx * 3 + i] = gd[i];
    }
  }
}

template void sh_forward<float>(int, int, int, int, const float*, const float*, float*);
template void sh_forward<double>(int, int, int, int, const double*, const double*, double*);
template void sh_backward<float>(int, int, int, int, const float*, const float*, const float*, float*,
                                 float*);
template void sh_backward<double>(int, int, int, int, const double*, const double*, const double*,
                                  double*, double*);

}  // namespace cpu
}  // namespace s2s
