// cub's device-wide radix sort and scan for the binning (see sort.cuh). cub ships with
// the CUDA toolkit (CCCL), so this needs nothing beyond nvcc.
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include "sort.cuh"

namespace s2s {
namespace cuda {

cudaError_t sort_pairs(void* temp, std::size_t& temp_bytes, const uint64_t* keys_in, uint64_t* keys_out,
                       const int32_t* values_in, int32_t* values_out, int n, int end_bit, cudaStream_t stream) {
  return cub::DeviceRadixSort::SortPairs(temp, temp_bytes, keys_in, keys_out, values_in, values_out, n, 0, end_bit,
                                         stream);
}

cudaError_t inclusive_sum(void* temp, std::size_t& temp_bytes, const int64_t* in, int64_t* out, int n,
                          cudaStream_t stream) {
  return cub::DeviceScan::InclusiveSum(temp, temp_bytes, in, out, n, stream);
}

}  // namespace cuda
}  // namespace s2s
