// Compile check: the shared headers build as CUDA device code (no PyTorch headers).
//   nvcc -std=c++17 -arch=sm_90 -I csrc/include -c csrc/check/headers.cu -o /dev/null
// (see csrc/check/check.sh). Also instantiates every function in a kernel so that the
// device versions are really compiled, for float and double.
#include "splat2sim/projection.h"
#include "splat2sim/raster.h"
#include "splat2sim/sh.h"

template <typename T>
__global__ void check_kernel(const T* in, T* out, int* iout) {
  using namespace s2s;
  ProjectionState<T> st;
  T m2[2], con[3], depth;
  int r;
  const bool ok = project_gaussian(in, in + 3, in + 7, in + 10, in[26], in[27], in[28], in[29], 64, 48,
                                   T(0.01), T(100), st, m2, con, depth, r);
  T gm[3] = {0, 0, 0}, gq[4] = {0, 0, 0, 0}, gs[3] = {0, 0, 0};
  if (ok) project_gaussian_vjp(st, in + 10, in[26], in[27], m2, con, depth, gm, gq, gs);
  T b[16], bx[16], by[16], bz[16];
  sh_basis(3, in[0], in[1], in[2], b);
  sh_basis_grad(3, in[0], in[1], in[2], bx, by, bz);
  T dx, dy, vis;
  bool clamped;
  const T sigma = gaussian_sigma(m2, con, T(10.5), T(7.5), dx, dy);
  const T a = gaussian_alpha(T(0.5), sigma, vis, clamped);
  T go = 0, gm2[2] = {0, 0}, gc[3] = {0, 0, 0};
  gaussian_alpha_vjp(T(0.5), vis, con, dx, dy, a, go, gm2, gc);
  out[threadIdx.x] = gm[0] + gq[0] + gs[0] + b[15] + bx[15] + by[15] + bz[15] + go + gm2[0] + gc[0];
  iout[threadIdx.x] = r + sh_num_bases(3);
}

template __global__ void check_kernel<float>(const float*, float*, int*);
template __global__ void check_kernel<double>(const double*, double*, int*);
