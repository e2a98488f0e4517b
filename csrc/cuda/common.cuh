// Helpers shared by the CUDA kernels (device code only; included by csrc/cuda/*.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels.h"
#include "splat2sim/common.h"

namespace s2s {
namespace cuda {

constexpr int BLOCK = 256;  // threads per block of the per-element kernels
constexpr int TILE_PIXELS = TILE_SIZE * TILE_SIZE;  // threads per block of the tile kernels
constexpr unsigned FULL_MASK = 0xffffffffu;

inline cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

inline unsigned grid_for(int64_t n, int block = BLOCK) { return (unsigned)((n + block - 1) / block); }

// Return the error code of `expr` (a cudaError_t or a launcher's int) when it is not 0.
#define S2S_TRY(expr)                               \
  do {                                              \
    const int s2s_try_err_ = (int)(expr);           \
    if (s2s_try_err_ != 0) return s2s_try_err_;     \
  } while (0)

// The error of the last launch (or of an earlier asynchronous failure), as a return code.
inline int last_error() { return (int)cudaGetLastError(); }

// Sum of v over the 32 lanes of a warp (all lanes must call it); the result is valid in lane 0.
template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(FULL_MASK, v, offset);
  return v;
}

}  // namespace cuda
}  // namespace s2s
