// The two device-wide primitives of the binning, wrapped so that cub is instantiated in
// one translation unit (csrc/cuda/sort.cu): cub's radix sort is the slowest part of the
// CUDA build, and the compile check (csrc/check/check.sh) can then build the project's own
// kernels for every architecture quickly. Both follow cub's two-call protocol: with
// temp == nullptr they only set temp_bytes.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace s2s {
namespace cuda {

// Stable ascending sort of n (key, value) pairs by bits [0, end_bit) of the keys.
cudaError_t sort_pairs(void* temp, std::size_t& temp_bytes, const uint64_t* keys_in, uint64_t* keys_out,
                       const int32_t* values_in, int32_t* values_out, int n, int end_bit, cudaStream_t stream);

// out[i] = in[0] + ... + in[i] for i < n.
cudaError_t inclusive_sum(void* temp, std::size_t& temp_bytes, const int64_t* in, int64_t* out, int n,
                          cudaStream_t stream);

}  // namespace cuda
}  // namespace s2s
