#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels.h"
#include "splat2sim/raster.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace s2s {
namespace cpu {

template <typename T>
void bin_gaussians(int C, int N, const T* means2d, const int32_t* radii, const T* depths, int width,
                   int height, std::vector<int64_t>& tile_offsets, std::vector<int32_t>& flat_ids) {
  const int TX = (width + TILE_SIZE - 1) / TILE_SIZE, TY = (height + TILE_SIZE - 1) / TILE_SIZE;
  const int64_t n_tiles = (int64_t)C * TX * TY;
  // Tile rectangle [x0, x1) x [y0, y1) of each Gaussian, from its mean and radius.
  std::vector<int32_t> rect((int64_t)C * N * 4, 0);
#pragma omp parallel for schedule(static)
  for (int64_t idx = 0; idx < (int64_t)C * N; ++idx) {
    if (radii[idx] <= 0) continue;
    const T u = means2d[idx * 2 + 0], v = means2d[idx * 2 + 1], r = T(radii[idx]);
    int32_t* q = &rect[idx * 4];
    q[0] = std::min(std::max((int)std::floor((u - r) / T(TILE_SIZE)), 0), TX);
    q[1] = std::min(std::max((int)std::ceil((u + r) / T(TILE_SIZE)), 0), TX);
    q[2] = std::min(std::max((int)std::floor((v - r) / T(TILE_SIZE)), 0), TY);
    q[3] = std::min(std::max((int)std::ceil((v + r) / T(TILE_SIZE)), 0), TY);
  }
  // Visible Gaussians of each camera in (depth, id) order: filling the tile lists in this
  // order leaves every list sorted by depth with ties broken by id (as the torch reference
  // does, with a stable sort), so no per-tile sort is needed.
  struct Key {
    T depth;
    int32_t id;
  };
  std::vector<int64_t> cam_start(C + 1, 0);
  for (int c = 0; c < C; ++c) {
    int64_t v = 0;
    for (int n = 0; n < N; ++n) v += radii[(int64_t)c * N + n] > 0;
    cam_start[c + 1] = cam_start[c] + v;
  }
  std::vector<Key> order(cam_start[C]);
  for (int c = 0; c < C; ++c) {
    Key* o = order.data() + cam_start[c];
    for (int n = 0; n < N; ++n)
      if (radii[(int64_t)c * N + n] > 0) *o++ = Key{depths[(int64_t)c * N + n], n};
    std::sort(order.begin() + cam_start[c], order.begin() + cam_start[c + 1], [](const Key& x, const Key& y) {
      return x.depth < y.depth || (!(y.depth < x.depth) && x.id < y.id);
    });
  }
  std::vector<int64_t> counts(n_tiles + 1, 0);
  for (int64_t idx = 0; idx < (int64_t)C * N; ++idx) {
    if (radii[idx] <= 0) continue;
    const int c = (int)(idx / N);
    const int32_t* q = &rect[idx * 4];
    for (int ty = q[2]; ty < q[3]; ++ty)
      for (int tx = q[0]; tx < q[1]; ++tx) counts[(int64_t)c * TX * TY + ty * TX + tx + 1] += 1;
  }
  for (int64_t t = 0; t < n_tiles; ++t) counts[t + 1] += counts[t];
  tile_offsets = counts;
  flat_ids.resize(counts[n_tiles]);
  std::vector<int64_t> cursor(counts.begin(), counts.end() - 1);
  for (int c = 0; c < C; ++c) {
    int64_t* cur = cursor.data() + (int64_t)c * TX * TY;
    for (int64_t k = cam_start[c]; k < cam_start[c + 1]; ++k) {
      const int32_t n = order[k].id;
      const int32_t* q = &rect[((int64_t)c * N + n) * 4];
      for (int ty = q[2]; ty < q[3]; ++ty)
        for (int tx = q[0]; tx < q[1]; ++tx) flat_ids[cur[ty * TX + tx]++] = n;
    }
  }
}

// log(opacity / ALPHA_MIN) per Gaussian and camera: the sigma above which its alpha is under
// ALPHA_MIN (NaN for opacity <= 0 or NaN, which never culls). Computed once per call, not per
// (tile, Gaussian) pair.
template <typename T>
static std::vector<double> alpha_cuts(int64_t count, const T* opacities) {
  std::vector<double> cuts(count);
#pragma omp parallel for schedule(static)
  for (int64_t idx = 0; idx < count; ++idx) cuts[idx] = std::log(double(opacities[idx]) / ALPHA_MIN);
  return cuts;
}

template <typename T>
void rasterize_forward(int C, int N, int D, const T* means2d, const T* conics, const T* feats,
                       const T* opacities, const int64_t* tile_offsets, const int32_t* flat_ids, int width,
                       int height, int top_k, T* out, T* alpha, int64_t* last, int32_t* median_ids,
                       int32_t* topk_ids, T* topk_weights) {
  const int TX = (width + TILE_SIZE - 1) / TILE_SIZE, TY = (height + TILE_SIZE - 1) / TILE_SIZE;
  const int64_t n_tiles = (int64_t)C * TX * TY;
  constexpr int B = 8;  // Gaussians screened per block (vectorised sigma and cut-off test)
  const std::vector<double> cuts = alpha_cuts((int64_t)C * N, opacities);
#pragma omp parallel
  {
    // Per-thread scratch: the tile's Gaussians that can reach ALPHA_MIN somewhere in the
    // tile (tile_culls), gathered into contiguous arrays in tile order, padded to a multiple
    // of B, so the per-pixel loop reads them sequentially; lpos is each one's place in the
    // tile's list (for `last`).
    std::vector<T> acc(D), lmx, lmy, lca, lcb, lcc, lop, lcut, lft;
    std::vector<int32_t> lid;
    std::vector<int64_t> lpos;
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < n_tiles; ++t) {
      const int c = (int)(t / ((int64_t)TX * TY));
      const int tile = (int)(t % ((int64_t)TX * TY));
      const int ty = tile / TX, tx = tile % TX;
      const int64_t start = tile_offsets[t], end = tile_offsets[t + 1];
      const T* m2 = means2d + (int64_t)c * N * 2;
      const T* con = conics + (int64_t)c * N * 3;
      const T* ft = feats + (int64_t)c * N * D;
      const T* op = opacities + (int64_t)c * N;
      const double bx0 = tx * TILE_SIZE + 0.5, bx1 = std::min((tx + 1) * TILE_SIZE, width) - 0.5;
      const double by0 = ty * TILE_SIZE + 0.5, by1 = std::min((ty + 1) * TILE_SIZE, height) - 0.5;
      for (auto* v : {&lmx, &lmy, &lca, &lcb, &lcc, &lop, &lcut, &lft}) v->clear();
      lid.clear();
      lpos.clear();
      for (int64_t j = 0; j < end - start; ++j) {
        const int32_t g = flat_ids[start + j];
        const double cut = cuts[(int64_t)c * N + g];
        if (tile_culls(tile_min_sigma(m2[g * 2], m2[g * 2 + 1], con[g * 3], con[g * 3 + 1], con[g * 3 + 2], bx0, bx1, by0, by1), cut))
          continue;
        lid.push_back(g);
        lpos.push_back(j);
        lmx.push_back(m2[g * 2 + 0]);
        lmy.push_back(m2[g * 2 + 1]);
        lca.push_back(con[g * 3 + 0]);
        lcb.push_back(con[g * 3 + 1]);
        lcc.push_back(con[g * 3 + 2]);
        lop.push_back(op[g]);
        for (int d = 0; d < D; ++d) lft.push_back(ft[(int64_t)g * D + d]);
        // sigma above which opacity * exp(-sigma) < ALPHA_MIN for certain (the margin is far
        // above rounding error), so the Gaussian would be skipped: no exp needed there.
        // A NaN cut-off (opacity < 0 or NaN) never compares true: those take the exact path.
        lcut.push_back(T(cut + 1e-3));
      }
      const int64_t n = (int64_t)lid.size(), np = (n + B - 1) / B * B;
      // Padding never passes the screen: sigma (0) > -inf.
      for (auto* v : {&lmx, &lmy, &lca, &lcb, &lcc, &lop}) v->resize(np, T(0));
      lcut.resize(np, -std::numeric_limits<T>::infinity());
      for (int py = ty * TILE_SIZE; py < std::min((ty + 1) * TILE_SIZE, height); ++py) {
        for (int px = tx * TILE_SIZE; px < std::min((tx + 1) * TILE_SIZE, width); ++px) {
          const int64_t pix = ((int64_t)c * height + py) * width + px;
          const T pcx = T(px) + T(0.5), pcy = T(py) + T(0.5);
          std::fill(acc.begin(), acc.end(), T(0));
          T Tr = 1;
          int64_t last_j = 0;
          int32_t median = -1;
          int32_t* kid = top_k > 0 ? topk_ids + pix * top_k : nullptr;
          T* kw = top_k > 0 ? topk_weights + pix * top_k : nullptr;
          for (int k = 0; k < top_k; ++k) {
            kid[k] = -1;
            kw[k] = 0;
          }
          bool done = false;
          for (int64_t j0 = 0; j0 < np && !done; j0 += B) {
            // sigma exactly as gaussian_sigma computes it; keep[] = not skipped by the
            // sigma < 0 test or the cut-off (NaN sigma is kept, as in the scalar path).
            T sig[B];
            int32_t keep[B];
            for (int k = 0; k < B; ++k) {
              const T dx = lmx[j0 + k] - pcx, dy = lmy[j0 + k] - pcy;
              const T s = T(0.5) * (lca[j0 + k] * dx * dx + lcc[j0 + k] * dy * dy) + lcb[j0 + k] * dx * dy;
              sig[k] = s;
              keep[k] = !(s < 0) & !(s > lcut[j0 + k]);
            }
            int32_t any = 0;
            for (int k = 0; k < B; ++k) any |= keep[k];
            if (!any) continue;
            for (int k = 0; k < B; ++k) {
              if (!keep[k]) continue;
              const int64_t j = j0 + k;
              T vis;
              bool clamped;
              const T a = gaussian_alpha(lop[j], sig[k], vis, clamped);
              if (a < T(ALPHA_MIN)) continue;
              const T next_T = Tr * (1 - a);
              if (next_T <= T(T_MIN)) {
                done = true;
                break;
              }
              const T w = a * Tr;
              const T* f = &lft[j * D];
              for (int d = 0; d < D; ++d) acc[d] += w * f[d];
              const int32_t g = lid[j];
              if (median < 0 && next_T <= T(MEDIAN_T)) median = g;
              if (top_k > 0 && w > kw[top_k - 1]) {
                int q = top_k - 1;
                while (q > 0 && kw[q - 1] < w) {
                  kw[q] = kw[q - 1];
                  kid[q] = kid[q - 1];
                  --q;
                }
                kw[q] = w;
                kid[q] = g;
              }
              Tr = next_T;
              last_j = lpos[j] + 1;
            }
          }
          for (int d = 0; d < D; ++d) out[pix * D + d] = acc[d];
          alpha[pix] = 1 - Tr;
          last[pix] = start + last_j;
          median_ids[pix] = median;
        }
      }
    }
  }
}

template <typename T>
void rasterize_backward(int C, int N, int D, const T* means2d, const T* conics, const T* feats,
                        const T* opacities, const int64_t* tile_offsets, const int32_t* flat_ids, int width,
                        int height, const T* alpha, const int64_t* last, const T* g_out, const T* g_alpha,
                        T* g_means2d, T* g_conics, T* g_feats, T* g_opacities) {
  const int TX = (width + TILE_SIZE - 1) / TILE_SIZE, TY = (height + TILE_SIZE - 1) / TILE_SIZE;
  const int64_t n_tiles = (int64_t)C * TX * TY;
  int n_threads = 1;
#ifdef _OPENMP
  n_threads = omp_get_max_threads();
#endif
  // Per-thread gradient buffers, summed at the end: tiles share Gaussians.
  const int64_t row = 2 + 3 + D + 1;
  const int64_t per_thread = (int64_t)C * N * row;
  std::vector<T> buf((int64_t)n_threads * per_thread, T(0));
  // Per-Gaussian sigma cut-off, as in rasterize_forward: above it alpha < ALPHA_MIN for
  // certain, so the Gaussian is skipped without evaluating exp (same result).
  const std::vector<double> cuts = alpha_cuts((int64_t)C * N, opacities);
  std::vector<T> cut_all((int64_t)C * N);
  for (int64_t idx = 0; idx < (int64_t)C * N; ++idx) cut_all[idx] = T(cuts[idx] + 1e-3);
#pragma omp parallel num_threads(n_threads)
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    T* gb = buf.data() + tid * per_thread;
    std::vector<T> accum(D);
    // Per-tile scratch, as in rasterize_forward: the tile's Gaussians left by the tile cull
    // (what it leaves out is skipped at every pixel), gathered contiguously with their place
    // in the tile's list, and their gradients summed per tile (lg, `row` per Gaussian)
    // before one scatter into the thread's buffer.
    std::vector<T> lmx, lmy, lca, lcb, lcc, lop, lcut, lft, lg;
    std::vector<int32_t> lid;
    std::vector<int64_t> lpos;
    // Tiles go to threads round-robin, not dynamically: each thread's buffer then sums the
    // same tiles in the same order on every run, so the gradients (and a trained splat)
    // repeat exactly for a given thread count.
#pragma omp for schedule(static, 1)
    for (int64_t t = 0; t < n_tiles; ++t) {
      const int c = (int)(t / ((int64_t)TX * TY));
      const int tile = (int)(t % ((int64_t)TX * TY));
      const int ty = tile / TX, tx = tile % TX;
      const int64_t start = tile_offsets[t], end = tile_offsets[t + 1];
      const T* m2 = means2d + (int64_t)c * N * 2;
      const T* con = conics + (int64_t)c * N * 3;
      const T* ft = feats + (int64_t)c * N * D;
      const T* op = opacities + (int64_t)c * N;
      const T* cut = cut_all.data() + (int64_t)c * N;
      T* gcam = gb + (int64_t)c * N * row;
      const double bx0 = tx * TILE_SIZE + 0.5, bx1 = std::min((tx + 1) * TILE_SIZE, width) - 0.5;
      const double by0 = ty * TILE_SIZE + 0.5, by1 = std::min((ty + 1) * TILE_SIZE, height) - 0.5;
      for (auto* v : {&lmx, &lmy, &lca, &lcb, &lcc, &lop, &lcut, &lft}) v->clear();
      lid.clear();
      lpos.clear();
      for (int64_t i = start; i < end; ++i) {
        const int32_t g = flat_ids[i];
        const double ms = tile_min_sigma(m2[g * 2], m2[g * 2 + 1], con[g * 3], con[g * 3 + 1], con[g * 3 + 2], bx0, bx1, by0, by1);
        if (tile_culls(ms, cuts[(int64_t)c * N + g])) continue;
        lid.push_back(g);
        lpos.push_back(i);
        lmx.push_back(m2[g * 2]);
        lmy.push_back(m2[g * 2 + 1]);
        lca.push_back(con[g * 3 + 0]);
        lcb.push_back(con[g * 3 + 1]);
        lcc.push_back(con[g * 3 + 2]);
        lop.push_back(op[g]);
        lcut.push_back(cut[g]);
        for (int d = 0; d < D; ++d) lft.push_back(ft[(int64_t)g * D + d]);
      }
      const int64_t n = (int64_t)lid.size();
      if (n == 0) continue;
      lg.assign(n * row, T(0));
      for (int py = ty * TILE_SIZE; py < std::min((ty + 1) * TILE_SIZE, height); ++py) {
        for (int px = tx * TILE_SIZE; px < std::min((tx + 1) * TILE_SIZE, width); ++px) {
          const int64_t pix = ((int64_t)c * height + py) * width + px;
          const T pcx = T(px) + T(0.5), pcy = T(py) + T(0.5);
          const T T_final = 1 - alpha[pix];
          const T* go = g_out + pix * D;
          const T ga_out = g_alpha[pix];
          T Tr = T_final;
          std::fill(accum.begin(), accum.end(), T(0));
          // kept entries before last[pix], back to front
          int64_t j = std::lower_bound(lpos.begin(), lpos.end(), last[pix]) - lpos.begin();
          while (j-- > 0) {
            const T cj[3] = {lca[j], lcb[j], lcc[j]};
            const T mxy[2] = {lmx[j], lmy[j]};
            T dx, dy, vis;
            bool clamped;
            const T sigma = gaussian_sigma(mxy, cj, pcx, pcy, dx, dy);
            if (sigma < 0 || sigma > lcut[j]) continue;
            const T a = gaussian_alpha(lop[j], sigma, vis, clamped);
            if (a < T(ALPHA_MIN)) continue;
            Tr = Tr / (1 - a);  // transmittance in front of this Gaussian
            const T w = a * Tr;
            T* gg = &lg[j * row];
            const T* f = &lft[j * D];
            T g_a = 0;
            for (int d = 0; d < D; ++d) {
              gg[5 + d] += w * go[d];
              g_a += (f[d] - accum[d]) * go[d];
              accum[d] = a * f[d] + (1 - a) * accum[d];
            }
            g_a = g_a * Tr + ga_out * T_final / (1 - a);
            if (!clamped) gaussian_alpha_vjp(lop[j], vis, cj, dx, dy, g_a, gg[5 + D], gg, gg + 2);
          }
        }
      }
      for (int64_t j = 0; j < n; ++j) {
        T* dst = gcam + (int64_t)lid[j] * row;
        const T* src = &lg[j * row];
        for (int64_t k = 0; k < row; ++k) dst[k] += src[k];
      }
    }
  }
  const int64_t CN = (int64_t)C * N;
#pragma omp parallel for schedule(static)
  for (int64_t idx = 0; idx < CN; ++idx) {
    T s[64];
    T* sum = row <= 64 ? s : nullptr;
    std::vector<T> heap;
    if (!sum) {
      heap.assign(row, 0);
      sum = heap.data();
    }
    for (int64_t k = 0; k < row; ++k) sum[k] = 0;
    for (int th = 0; th < n_threads; ++th) {
      const T* src = buf.data() + th * per_thread + idx * row;
      for (int64_t k = 0; k < row; ++k) sum[k] += src[k];
    }
    g_means2d[idx * 2 + 0] = sum[0];
    g_means2d[idx * 2 + 1] = sum[1];
    for (int k = 0; k < 3; ++k) g_conics[idx * 3 + k] = sum[2 + k];
    for (int d = 0; d < D; ++d) g_feats[idx * D + d] = sum[5 + d];
    g_opacities[idx] = sum[5 + D];
  }
}

#define S2S_INSTANTIATE(T)                                                                              \
  template void bin_gaussians<T>(int, int, const T*, const int32_t*, const T*, int, int,               \
                                 std::vector<int64_t>&, std::vector<int32_t>&);                        \
  template void rasterize_forward<T>(int, int, int, const T*, const T*, const T*, const T*,            \
                                     const int64_t*, const int32_t*, int, int, int, T*, T*, int64_t*,  \
                                     int32_t*, int32_t*, T*);                                          \
  template void rasterize_backward<T>(int, int, int, const T*, const T*, const T*, const T*,           \
                                      const int64_t*, const int32_t*, int, int, const T*,              \
                                      const int64_t*, const T*, const T*, T*, T*, T*, T*);
S2S_INSTANTIATE(float)
S2S_INSTANTIATE(double)

}  // namespace cpu
}  // namespace s2s
