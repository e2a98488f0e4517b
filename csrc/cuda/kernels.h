// CUDA kernels of the native backend: host-side launchers on raw device pointers.
//
// Plain C++: no PyTorch and no CUDA headers, so any host compiler can include this
// (csrc/cuda_ext.cpp binds it to torch tensors; csrc/check/check.sh compiles it with
// g++). The kernels themselves live in csrc/cuda/*.cu and share their math with the CPU
// kernels through csrc/include/splat2sim/*.h. T is float or double.
//
// Conventions of every launcher:
//   * pointers are device pointers, row-major, with the shapes of csrc/cpu/kernels.h;
//   * `stream` is a cudaStream_t passed as void* (nullptr = the legacy default stream);
//     work is queued on it and, except where noted, not waited for;
//   * the return value is 0 on success or a cudaError_t code (see error_string);
//   * gradients marked "accumulated" are added with atomics: the caller zeroes them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace s2s {
namespace cuda {

// Device memory for temporaries (sort and scan buffers). The launcher asks for blocks
// with alloc(ctx, bytes) (nullptr = out of memory) and never frees them: the caller
// releases them after the launcher returns. Memory is only used by work queued on the
// launcher's stream, so a stream-ordered allocator (torch's caching allocator) may reuse
// it for later work on the same stream at once.
struct Scratch {
  void* (*alloc)(void* ctx, std::size_t bytes);
  void* ctx;
};

// Human-readable text for a launcher's return code.
const char* error_string(int code);

// Extra error codes of the launchers (beyond cudaError_t's).
constexpr int ERROR_TOO_MANY_INTERSECTIONS = 100001;  // more than 2^31 - 1 (tile, Gaussian) pairs
constexpr int ERROR_BAD_ARGUMENT = 100002;            // a size or count outside what the kernels handle

// Compute capability the kernels were compiled for (e.g. 900), from the device pass
// that runs on the current device; 0 if none matches it.
int compiled_arch();

// ---- projection (EWA splatting; csrc/include/splat2sim/projection.h) ----

template <typename T>
int project_forward(int C, int N, const T* means, const T* quats, const T* log_scales, const T* viewmats,
                    const T* intrinsics, int width, int height, T near_plane, T far_plane, T* means2d,
                    T* conics, T* depths, int32_t* radii, void* stream);

// g_means, g_quats, g_log_scales are written (not accumulated): one thread per Gaussian
// sums over the cameras.
template <typename T>
int project_backward(int C, int N, const T* means, const T* quats, const T* log_scales, const T* viewmats,
                     const T* intrinsics, int width, int height, T near_plane, T far_plane,
                     const int32_t* radii, const T* g_means2d, const T* g_conics, const T* g_depths,
                     T* g_means, T* g_quats, T* g_log_scales, void* stream);

// ---- spherical harmonics (csrc/include/splat2sim/sh.h) ----

template <typename T>
int sh_forward(int degree, int K, int C, int N, const T* dirs, const T* coeffs, T* colors, void* stream);

// g_dirs [C,N,3] and g_coeffs [N,K,3] are written (not accumulated).
template <typename T>
int sh_backward(int degree, int K, int C, int N, const T* dirs, const T* coeffs, const T* g_colors,
                T* g_dirs, T* g_coeffs, void* stream);

// ---- tile binning: a global sort of (tile, depth) keys ----
//
// Two calls, because the number M of (tile, Gaussian) pairs is known only after the first.
//
// bin_count: rects [C*N*4] (tile rectangle x0, x1, y0, y1 of each Gaussian; zeros where
// culled), pair_ends [C*N] (inclusive running sum of each Gaussian's tile count),
// tile_offsets [C*TY*TX+1] (start of every tile's list; the last entry is M) and
// *num_pairs = M on the host. Waits for the stream once (to read M).
template <typename T>
int bin_count(int C, int N, const T* means2d, const int32_t* radii, int width, int height, int32_t* rects,
              int64_t* pair_ends, int64_t* tile_offsets, int64_t* num_pairs, Scratch scratch, void* stream);

// bin_sort: flat_ids [M], the Gaussian ids of tile t at flat_ids[tile_offsets[t]:tile_offsets[t+1]],
// front to back (ties: by id, as the CPU kernels and the torch reference).
template <typename T>
int bin_sort(int C, int N, const T* depths, int width, int height, const int32_t* rects, const int64_t* pair_ends,
             int64_t num_pairs, int32_t* flat_ids, Scratch scratch, void* stream);

// ---- compositing (csrc/include/splat2sim/raster.h), one 16x16 tile per block ----
//
// Outputs as csrc/cpu/kernels.h: out [C,H,W,D], alpha [C,H,W], last [C,H,W] (one past the
// last list entry a pixel used), median_ids [C,H,W], topk_ids / topk_weights [C,H,W,top_k].
// Any D >= 1: channels are composited in passes of at most 8.
template <typename T>
int rasterize_forward(int C, int N, int D, const T* means2d, const T* conics, const T* feats, const T* opacities,
                      const int64_t* tile_offsets, const int32_t* flat_ids, int width, int height, int top_k,
                      T* out, T* alpha, int64_t* last, int32_t* median_ids, int32_t* topk_ids, T* topk_weights,
                      void* stream);

// Walks each pixel's list back to front from `last`, like the CPU backward. g_means2d,
// g_conics, g_feats and g_opacities are accumulated (zero them first).
template <typename T>
int rasterize_backward(int C, int N, int D, const T* means2d, const T* conics, const T* feats, const T* opacities,
                       const int64_t* tile_offsets, const int32_t* flat_ids, int width, int height, const T* alpha,
                       const int64_t* last, const T* g_out, const T* g_alpha, T* g_means2d, T* g_conics, T* g_feats,
                       T* g_opacities, void* stream);

}  // namespace cuda
}  // namespace s2s
