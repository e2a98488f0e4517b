// Shared definitions for splat2sim's native kernels.
//
// Everything under csrc/include/splat2sim/ is plain C++ with no PyTorch headers, written
// with HOST_DEVICE so that the same functions compile in g++ (the CPU kernels) and in nvcc
// (CUDA kernels). The conventions are the ones in splat2sim/render/conventions.py; the
// constants below must stay equal to the Python ones (tests compare the two backends).
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define HOST_DEVICE __host__ __device__ inline
#else
#define HOST_DEVICE inline
#endif

namespace s2s {

constexpr int TILE_SIZE = 16;            // pixels per tile side
constexpr double ALPHA_MIN = 1.0 / 255;  // a Gaussian with alpha below this is skipped
constexpr double ALPHA_MAX = 0.99;       // alpha is clamped to this
constexpr double T_MIN = 1e-4;           // compositing stops before T would fall to this
constexpr double EPS2D = 0.3;            // low-pass dilation added to the 2D covariance
constexpr double MEDIAN_T = 0.5;         // median depth: where T first falls to this
constexpr double FOV_MARGIN = 0.3;       // clamp x/z to the image plus 30% of tan(fov/2)

template <typename T>
HOST_DEVICE T clamp_val(T x, T lo, T hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

}  // namespace s2s
