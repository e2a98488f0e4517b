// CPU kernels of the native backend (OpenMP). Plain C++ on raw row-major arrays, no
// PyTorch headers; csrc/ext.cpp binds them to torch tensors. T is float or double.
//
// Shapes (C cameras, N Gaussians, K SH bases, D feature channels, H x W image):
//   means [N,3], quats [N,4] (w,x,y,z), log_scales [N,3], viewmats [C,4,4] camera_from_world,
//   intrinsics [C,4] (fx, fy, cx, cy), means2d [C,N,2], conics [C,N,3], depths [C,N],
//   radii [C,N] (0 = culled), dirs [C,N,3] unit, coeffs [N,K,3], colors [C,N,3],
//   feats [C,N,D], opacities [C,N], tile_offsets [C*TY*TX+1], flat_ids [M] (Gaussian ids
//   per tile, sorted by depth), out [C,H,W,D], alpha [C,H,W], last [C,H,W],
//   median_ids [C,H,W] (-1 = none), topk_ids/topk_weights [C,H,W,top_k].
#pragma once

#include <cstdint>
#include <vector>

namespace s2s {
namespace cpu {

template <typename T>
void project_forward(int C, int N, const T* means, const T* quats, const T* log_scales,
                     const T* viewmats, const T* intrinsics, int width, int height, T near_plane,
                     T far_plane, T* means2d, T* conics, T* depths, int32_t* radii);

template <typename T>
void project_backward(int C, int N, const T* means, const T* quats, const T* log_scales,
                      const T* viewmats, const T* intrinsics, int width, int height, T near_plane,
                      T far_plane, const int32_t* radii, const T* g_means2d, const T* g_conics,
                      const T* g_depths, T* g_means, T* g_quats, T* g_log_scales);

template <typename T>
void sh_forward(int degree, int K, int C, int N, const T* dirs, const T* coeffs, T* colors);

template <typename T>
void sh_backward(int degree, int K, int C, int N, const T* dirs, const T* coeffs,
                 const T* g_colors, T* g_dirs, T* g_coeffs);

template <typename T>
void bin_gaussians(int C, int N, const T* means2d, const int32_t* radii, const T* depths,
                   int width, int height, std::vector<int64_t>& tile_offsets,
                   std::vector<int32_t>& flat_ids);

template <typename T>
void rasterize_forward(int C, int N, int D, const T* means2d, const T* conics, const T* feats,
                       const T* opacities, const int64_t* tile_offsets, const int32_t* flat_ids,
                       int width, int height, int top_k, T* out, T* alpha, int64_t* last,
                       int32_t* median_ids, int32_t* topk_ids, T* topk_weights);

template <typename T>
void rasterize_backward(int C, int N, int D, const T* means2d, const T* conics, const T* feats,
                        const T* opacities, const int64_t* tile_offsets, const int32_t* flat_ids,
                        int width, int height, const T* alpha, const int64_t* last,
                        const T* g_out, const T* g_alpha, T* g_means2d, T* g_conics, T* g_feats,
                        T* g_opacities);

}  // namespace cpu
}  // namespace s2s
