// Front-to-back alpha compositing, forward and backward: one block of 16x16 threads per
// tile, one thread per pixel; the tile's Gaussians (binning.cu) are staged through
// shared memory in batches of 256. The per-pixel math (sigma, alpha and its VJP) is
// csrc/include/splat2sim/raster.h, shared with the CPU kernels, and the order of the
// floating-point operations follows csrc/cpu/rasterize.cpp.
//
// Feature channels are composited in passes of at most CHANNELS (8), held in registers;
// transmittance, `last`, the median and the top-K slots do not depend on the features,
// so the first pass writes them and the gradient of the alpha output is added once.
#include <climits>

#include "common.cuh"
#include "splat2sim/raster.h"

namespace s2s {
namespace cuda {

namespace {

constexpr int CHANNELS = 8;

struct TileCoords {
  int c;       // camera
  int px, py;  // this thread's pixel
  bool inside; // the pixel lies in the image (edge tiles are partial)
  int64_t pix; // ((c * H) + py) * W + px
};

__device__ __forceinline__ TileCoords tile_coords(int TX, int TY, int width, int height) {
  TileCoords tc;
  const int64_t t = blockIdx.x;
  const int64_t per_cam = (int64_t)TX * TY;
  tc.c = (int)(t / per_cam);
  const int tile = (int)(t % per_cam);
  tc.px = (tile % TX) * TILE_SIZE + (int)threadIdx.x % TILE_SIZE;
  tc.py = (tile / TX) * TILE_SIZE + (int)threadIdx.x / TILE_SIZE;
  tc.inside = tc.px < width && tc.py < height;
  tc.pix = ((int64_t)tc.c * height + tc.py) * width + tc.px;
  return tc;
}

template <typename T, int DC>
__global__ void __launch_bounds__(TILE_PIXELS)
    rasterize_forward_kernel(int N, int D, int d0, int Dc, bool first_pass, const T* __restrict__ means2d,
                             const T* __restrict__ conics, const T* __restrict__ feats,
                             const T* __restrict__ opacities, const int64_t* __restrict__ tile_offsets,
                             const int32_t* __restrict__ flat_ids, int width, int height, int TX, int TY, int top_k,
                             T* __restrict__ out, T* __restrict__ alpha, int64_t* __restrict__ last,
                             int32_t* __restrict__ median_ids, int32_t* __restrict__ topk_ids,
                             T* __restrict__ topk_weights) {
  __shared__ int32_t s_id[TILE_PIXELS];
  __shared__ T s_xy[TILE_PIXELS * 2];
  __shared__ T s_con[TILE_PIXELS * 3];
  __shared__ T s_op[TILE_PIXELS];

  const TileCoords tc = tile_coords(TX, TY, width, height);
  const int tid = threadIdx.x;
  const T pcx = T(tc.px) + T(0.5), pcy = T(tc.py) + T(0.5);
  const int64_t start = tile_offsets[blockIdx.x], end = tile_offsets[blockIdx.x + 1];
  const T* m2 = means2d + (int64_t)tc.c * N * 2;
  const T* con = conics + (int64_t)tc.c * N * 3;
  const T* ft = feats + (int64_t)tc.c * N * D + d0;
  const T* op = opacities + (int64_t)tc.c * N;

  T acc[DC];
#pragma unroll
  for (int d = 0; d < DC; ++d) acc[d] = 0;
  T Tr = 1;
  int64_t last_i = start;
  int32_t median = -1;
  bool done = !tc.inside;
  const bool want_k = first_pass && top_k > 0 && tc.inside;
  int32_t* kid = want_k ? topk_ids + tc.pix * top_k : nullptr;
  T* kw = want_k ? topk_weights + tc.pix * top_k : nullptr;
  if (want_k) {
    for (int k = 0; k < top_k; ++k) {
      kid[k] = -1;
      kw[k] = 0;
    }
  }

  for (int64_t b0 = start; b0 < end; b0 += TILE_PIXELS) {
    // Early termination: stop once every pixel of the tile is saturated. (Also the
    // barrier that keeps the previous batch in shared memory until all threads used it.)
    if (__syncthreads_count(done) == TILE_PIXELS) break;
    if (b0 + tid < end) {
      const int32_t g = flat_ids[b0 + tid];
      s_id[tid] = g;
      s_xy[tid * 2 + 0] = m2[(int64_t)g * 2 + 0];
      s_xy[tid * 2 + 1] = m2[(int64_t)g * 2 + 1];
      s_con[tid * 3 + 0] = con[(int64_t)g * 3 + 0];
      s_con[tid * 3 + 1] = con[(int64_t)g * 3 + 1];
      s_con[tid * 3 + 2] = con[(int64_t)g * 3 + 2];
      s_op[tid] = op[g];
    }
    __syncthreads();
    const int n_batch = (int)min((int64_t)TILE_PIXELS, end - b0);
    for (int j = 0; j < n_batch && !done; ++j) {
      T dx, dy, vis;
      bool clamped;
      const T sigma = gaussian_sigma(s_xy + j * 2, s_con + j * 3, pcx, pcy, dx, dy);
      if (sigma < 0) continue;
      const T a = gaussian_alpha(s_op[j], sigma, vis, clamped);
      if (a < T(ALPHA_MIN)) continue;
      const T next_T = Tr * (1 - a);
      if (next_T <= T(T_MIN)) {
        done = true;
        break;
      }
      const T w = a * Tr;
      const int32_t g = s_id[j];
      const T* f = ft + (int64_t)g * D;
#pragma unroll
      for (int d = 0; d < DC; ++d)
        if (d < Dc) acc[d] += w * f[d];
      if (first_pass) {
        if (median < 0 && next_T <= T(MEDIAN_T)) median = g;
        if (want_k && w > kw[top_k - 1]) {  // insertion into the slots, largest first
          int k = top_k - 1;
          while (k > 0 && kw[k - 1] < w) {
            kw[k] = kw[k - 1];
            kid[k] = kid[k - 1];
            --k;
          }
          kw[k] = w;
          kid[k] = g;
        }
      }
      Tr = next_T;
      last_i = b0 + j + 1;
    }
  }
  if (!tc.inside) return;
  T* o = out + tc.pix * D + d0;
#pragma unroll
  for (int d = 0; d < DC; ++d)
    if (d < Dc) o[d] = acc[d];
  if (first_pass) {
    alpha[tc.pix] = 1 - Tr;
    last[tc.pix] = last_i;
    median_ids[tc.pix] = median;
  }
}

template <typename T, int DC>
__global__ void __launch_bounds__(TILE_PIXELS)
    rasterize_backward_kernel(int N, int D, int d0, int Dc, bool first_pass, const T* __restrict__ means2d,
                              const T* __restrict__ conics, const T* __restrict__ feats,
                              const T* __restrict__ opacities, const int64_t* __restrict__ tile_offsets,
                              const int32_t* __restrict__ flat_ids, int width, int height, int TX, int TY,
                              const T* __restrict__ alpha, const int64_t* __restrict__ last,
                              const T* __restrict__ g_out, const T* __restrict__ g_alpha, T* __restrict__ g_means2d,
                              T* __restrict__ g_conics, T* __restrict__ g_feats, T* __restrict__ g_opacities) {
  __shared__ int32_t s_id[TILE_PIXELS];
  __shared__ T s_xy[TILE_PIXELS * 2];
  __shared__ T s_con[TILE_PIXELS * 3];
  __shared__ T s_op[TILE_PIXELS];
  __shared__ int s_span;

  const TileCoords tc = tile_coords(TX, TY, width, height);
  const int tid = threadIdx.x, lane = tid & 31;
  const T pcx = T(tc.px) + T(0.5), pcy = T(tc.py) + T(0.5);
  const int64_t start = tile_offsets[blockIdx.x];
  const int64_t cn = (int64_t)tc.c * N;
  const T* m2 = means2d + cn * 2;
  const T* con = conics + cn * 3;
  const T* ft = feats + cn * D + d0;
  const T* op = opacities + cn;
  T* gm2 = g_means2d + cn * 2;
  T* gcon = g_conics + cn * 3;
  T* gft = g_feats + cn * D + d0;
  T* gop = g_opacities + cn;

  // Pixels outside the image take part in the warp sums with zero gradients.
  const T T_final = tc.inside ? 1 - alpha[tc.pix] : T(1);
  const int64_t my_last = tc.inside ? last[tc.pix] : start;
  const T ga_out = (tc.inside && first_pass) ? g_alpha[tc.pix] : T(0);
  T go[DC], accum[DC];
#pragma unroll
  for (int d = 0; d < DC; ++d) {
    go[d] = (tc.inside && d < Dc) ? g_out[tc.pix * D + d0 + d] : T(0);
    accum[d] = 0;
  }
  T Tr = T_final;

  // The furthest list entry any pixel of the tile used: the walk starts there.
  if (tid == 0) s_span = 0;
  __syncthreads();
  if (tc.inside) atomicMax(&s_span, (int)(my_last - start));
  __syncthreads();
  const int64_t range_end = start + s_span;

  for (int64_t b_end = range_end; b_end > start; b_end -= TILE_PIXELS) {
    const int n_batch = (int)min((int64_t)TILE_PIXELS, b_end - start);
    __syncthreads();  // the previous batch is no longer read
    if (tid < n_batch) {  // slot j holds list entry b_end - 1 - j: back to front
      const int32_t g = flat_ids[b_end - 1 - tid];
      s_id[tid] = g;
      s_xy[tid * 2 + 0] = m2[(int64_t)g * 2 + 0];
      s_xy[tid * 2 + 1] = m2[(int64_t)g * 2 + 1];
      s_con[tid * 3 + 0] = con[(int64_t)g * 3 + 0];
      s_con[tid * 3 + 1] = con[(int64_t)g * 3 + 1];
      s_con[tid * 3 + 2] = con[(int64_t)g * 3 + 2];
      s_op[tid] = op[g];
    }
    __syncthreads();
    for (int j = 0; j < n_batch; ++j) {
      const int64_t i = b_end - 1 - j;
      bool valid = tc.inside && i < my_last;
      T dx = 0, dy = 0, vis = 0, a = 0;
      bool clamped = true;
      if (valid) {
        const T sigma = gaussian_sigma(s_xy + j * 2, s_con + j * 3, pcx, pcy, dx, dy);
        valid = sigma >= 0;
        if (valid) {
          a = gaussian_alpha(s_op[j], sigma, vis, clamped);
          valid = a >= T(ALPHA_MIN);
        }
      }
      if (!__any_sync(FULL_MASK, valid)) continue;  // warp-uniform

      T l_ft[DC], l_m2[2] = {0, 0}, l_con[3] = {0, 0, 0}, l_op = 0;
#pragma unroll
      for (int d = 0; d < DC; ++d) l_ft[d] = 0;
      const int32_t g = s_id[j];
      if (valid) {
        Tr = Tr / (1 - a);  // transmittance in front of this Gaussian
        const T w = a * Tr;
        const T* f = ft + (int64_t)g * D;
        T g_a = 0;
#pragma unroll
        for (int d = 0; d < DC; ++d) {
          if (d < Dc) {
            const T fd = f[d];
            l_ft[d] = w * go[d];
            g_a += (fd - accum[d]) * go[d];
            accum[d] = a * fd + (1 - a) * accum[d];
          }
        }
        g_a = g_a * Tr + ga_out * T_final / (1 - a);
        if (!clamped) gaussian_alpha_vjp(s_op[j], vis, s_con + j * 3, dx, dy, g_a, l_op, l_m2, l_con);
      }
      // One atomic per warp and value.
      l_m2[0] = warp_sum(l_m2[0]);
      l_m2[1] = warp_sum(l_m2[1]);
      l_con[0] = warp_sum(l_con[0]);
      l_con[1] = warp_sum(l_con[1]);
      l_con[2] = warp_sum(l_con[2]);
      l_op = warp_sum(l_op);
#pragma unroll
      for (int d = 0; d < DC; ++d) l_ft[d] = warp_sum(l_ft[d]);
      if (lane == 0) {
        atomicAdd(gm2 + (int64_t)g * 2 + 0, l_m2[0]);
        atomicAdd(gm2 + (int64_t)g * 2 + 1, l_m2[1]);
        atomicAdd(gcon + (int64_t)g * 3 + 0, l_con[0]);
        atomicAdd(gcon + (int64_t)g * 3 + 1, l_con[1]);
        atomicAdd(gcon + (int64_t)g * 3 + 2, l_con[2]);
        atomicAdd(gop + g, l_op);
#pragma unroll
        for (int d = 0; d < DC; ++d)
          if (d < Dc) atomicAdd(gft + (int64_t)g * D + d, l_ft[d]);
      }
    }
  }
}

struct Grid {
  int TX, TY;
  int64_t n_tiles;
};

inline Grid tile_grid(int C, int width, int height) {
  Grid g;
  g.TX = (width + TILE_SIZE - 1) / TILE_SIZE;
  g.TY = (height + TILE_SIZE - 1) / TILE_SIZE;
  g.n_tiles = (int64_t)C * g.TX * g.TY;
  return g;
}

}  // namespace

template <typename T>
int rasterize_forward(int C, int N, int D, const T* means2d, const T* conics, const T* feats, const T* opacities,
                      const int64_t* tile_offsets, const int32_t* flat_ids, int width, int height, int top_k, T* out,
                      T* alpha, int64_t* last, int32_t* median_ids, int32_t* topk_ids, T* topk_weights,
                      void* stream) {
  const Grid grid = tile_grid(C, width, height);
  if (D < 0 || top_k < 0 || grid.n_tiles > INT_MAX) return ERROR_BAD_ARGUMENT;
  if (grid.n_tiles == 0) return 0;
  int d0 = 0;
  do {
    const int Dc = D - d0 < CHANNELS ? D - d0 : CHANNELS;
    const bool first = d0 == 0;
    if (Dc <= 4) {
      rasterize_forward_kernel<T, 4><<<(unsigned)grid.n_tiles, TILE_PIXELS, 0, as_stream(stream)>>>(
          N, D, d0, Dc, first, means2d, conics, feats, opacities, tile_offsets, flat_ids, width, height, grid.TX,
          grid.TY, top_k, out, alpha, last, median_ids, topk_ids, topk_weights);
    } else {
      rasterize_forward_kernel<T, CHANNELS><<<(unsigned)grid.n_tiles, TILE_PIXELS, 0, as_stream(stream)>>>(
          N, D, d0, Dc, first, means2d, conics, feats, opacities, tile_offsets, flat_ids, width, height, grid.TX,
          grid.TY, top_k, out, alpha, last, median_ids, topk_ids, topk_weights);
    }
    const int err = last_error();
    if (err) return err;
    d0 += CHANNELS;
  } while (d0 < D);
  return 0;
}

template <typename T>
int rasterize_backward(int C, int N, int D, const T* means2d, const T* conics, const T* feats, const T* opacities,
                       const int64_t* tile_offsets, const int32_t* flat_ids, int width, int height, const T* alpha,
                       const int64_t* last, const T* g_out, const T* g_alpha, T* g_means2d, T* g_conics, T* g_feats,
                       T* g_opacities, void* stream) {
  const Grid grid = tile_grid(C, width, height);
  if (D < 0 || grid.n_tiles > INT_MAX) return ERROR_BAD_ARGUMENT;
  if (grid.n_tiles == 0 || N == 0) return 0;
  int d0 = 0;
  do {
    const int Dc = D - d0 < CHANNELS ? D - d0 : CHANNELS;
    const bool first = d0 == 0;
    if (Dc <= 4) {
      rasterize_backward_kernel<T, 4><<<(unsigned)grid.n_tiles, TILE_PIXELS, 0, as_stream(stream)>>>(
          N, D, d0, Dc, first, means2d, conics, feats, opacities, tile_offsets, flat_ids, width, height, grid.TX,
          grid.TY, alpha, last, g_out, g_alpha, g_means2d, g_conics, g_feats, g_opacities);
    } else {
      rasterize_backward_kernel<T, CHANNELS><<<(unsigned)grid.n_tiles, TILE_PIXELS, 0, as_stream(stream)>>>(
          N, D, d0, Dc, first, means2d, conics, feats, opacities, tile_offsets, flat_ids, width, height, grid.TX,
          grid.TY, alpha, last, g_out, g_alpha, g_means2d, g_conics, g_feats, g_opacities);
    }
    const int err = last_error();
    if (err) return err;
    d0 += CHANNELS;
  } while (d0 < D);
  return 0;
}

#define S2S_INSTANTIATE(T)                                                                                      \
  template int rasterize_forward<T>(int, int, int, const T*, const T*, const T*, const T*, const int64_t*,      \
                                    const int32_t*, int, int, int, T*, T*, int64_t*, int32_t*, int32_t*, T*,    \
                                    void*);                                                                     \
  template int rasterize_backward<T>(int, int, int, const T*, const T*, const T*, const T*, const int64_t*,     \
                                     const int32_t*, int, int, const T*, const int64_t*, const T*, const T*, T*, \
                                     T*, T*, T*, void*);
S2S_INSTANTIATE(float)
S2S_INSTANTIATE(double)
#undef S2S_INSTANTIATE

}  // namespace cuda
}  // namespace s2s
