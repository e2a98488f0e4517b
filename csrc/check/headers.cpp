// Compile check: the shared headers build as plain host C++ on their own (g++, no CUDA,
// no PyTorch headers), for float and double. The CUDA twin is headers.cu; together they
// show that csrc/include/splat2sim is usable unchanged by both compilers.
//   g++ -std=c++17 -Wall -Wextra -Werror -I csrc/include -c csrc/check/headers.cpp -o /dev/null
#include "splat2sim/projection.h"
#include "splat2sim/raster.h"
#include "splat2sim/sh.h"

template <typename T>
T check_host(const T* in, int* iout) {
  using namespace s2s;
  ProjectionState<T> st;
  T m2[2], con[3], depth;
  int r = 0;
  const bool ok = project_gaussian(in, in + 3, in + 7, in + 10, in[26], in[27], in[28], in[29], 64, 48, T(0.01),
                                   T(100), st, m2, con, depth, r);
  T gm[3] = {0, 0, 0}, gq[4] = {0, 0, 0, 0}, gs[3] = {0, 0, 0};
  if (ok) project_gaussian_vjp(st, in + 10, in[26], in[27], m2, con, depth, gm, gq, gs);
  T b[16], bx[16], by[16], bz[16];
  sh_basis(3, in[0], in[1], in[2], b);
  sh_basis_grad(3, in[0], in[1], in[2], bx, by, bz);
  T dx, dy, vis;
  bool clamped;
  const T sigma = gaussian_sigma(in + 30, in + 32, T(10.5), T(7.5), dx, dy);
  const T a = gaussian_alpha(T(0.5), sigma, vis, clamped);
  T go = 0, gm2[2] = {0, 0}, gc[3] = {0, 0, 0};
  gaussian_alpha_vjp(T(0.5), vis, in + 32, dx, dy, a, go, gm2, gc);
  *iout = r + sh_num_bases(3);
  return gm[0] + gq[0] + gs[0] + b[15] + bx[15] + by[15] + bz[15] + go + gm2[0] + gc[0] + clamp_val(a, T(0), T(1));
}

template float check_host<float>(const float*, int*);
template double check_host<double>(const double*, int*);
