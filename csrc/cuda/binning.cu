// Tile binning: every (tile, Gaussian) pair the 3-sigma square of a Gaussian overlaps,
// sorted globally by (camera and tile, depth) with cub's radix sort. The sort is stable
// and pairs are emitted in Gaussian-id order, so depth ties are broken by id, as in the
// CPU kernels (csrc/cpu/rasterize.cpp) and the torch reference.
//
// Keys: float depths take one sort of 64-bit keys (tile << 32 | order-preserving depth
// bits, only the bits in use are sorted). Double depths do not fit beside the tile, so
// they take two stable sorts: by depth (64-bit keys), then by tile (the low bits of
// 64-bit keys, so that every sort is the same instantiation, cheaper to compile).
#include <climits>

#include "common.cuh"
#include "sort.cuh"

namespace s2s {
namespace cuda {

namespace {

// Unsigned keys that order like the floating-point values (negative ones included).
__device__ __forceinline__ uint32_t depth_key(float d) {
  const uint32_t b = __float_as_uint(d);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
__device__ __forceinline__ uint64_t depth_key(double d) {
  const uint64_t b = (uint64_t)__double_as_longlong(d);
  return (b & 0x8000000000000000ull) ? ~b : (b | 0x8000000000000000ull);
}

// Tile rectangle [x0, x1) x [y0, y1) of every Gaussian (as the CPU kernel computes it),
// its number of tiles, and the count of every tile.
template <typename T>
__global__ void tile_rects_kernel(int C, int N, const T* __restrict__ means2d, const int32_t* __restrict__ radii,
                                  int TX, int TY, int32_t* __restrict__ rects, int64_t* __restrict__ counts,
                                  unsigned long long* __restrict__ tile_counts) {
  const int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (int64_t)C * N) return;
  int32_t* q = rects + idx * 4;
  if (radii[idx] <= 0) {
    q[0] = q[1] = q[2] = q[3] = 0;
    counts[idx] = 0;
    return;
  }
  const T u = means2d[idx * 2 + 0], v = means2d[idx * 2 + 1], r = T(radii[idx]);
  const int x0 = min(max((int)floor((u - r) / T(TILE_SIZE)), 0), TX);
  const int x1 = min(max((int)ceil((u + r) / T(TILE_SIZE)), 0), TX);
  const int y0 = min(max((int)floor((v - r) / T(TILE_SIZE)), 0), TY);
  const int y1 = min(max((int)ceil((v + r) / T(TILE_SIZE)), 0), TY);
  q[0] = x0;
  q[1] = x1;
  q[2] = y0;
  q[3] = y1;
  const int64_t n_pairs = (x1 > x0 && y1 > y0) ? (int64_t)(x1 - x0) * (y1 - y0) : 0;
  counts[idx] = n_pairs;
  if (n_pairs == 0) return;
  const int c = (int)(idx / N);
  unsigned long long* tc = tile_counts + (int64_t)c * TX * TY;
  for (int ty = y0; ty < y1; ++ty)
    for (int tx = x0; tx < x1; ++tx) atomicAdd(tc + ty * TX + tx, 1ull);
}

// One key (and value = Gaussian id) per pair, at the Gaussian's slot of the running sum.
// Float: key = global tile << 32 | depth bits. Double: tile and depth keys apart.
template <typename T, typename DepthKey>
__global__ void emit_pairs_kernel(int C, int N, const T* __restrict__ depths, int TX, int TY,
                                  const int32_t* __restrict__ rects, const int64_t* __restrict__ pair_ends,
                                  uint64_t* __restrict__ keys, uint64_t* __restrict__ tile_keys,
                                  int32_t* __restrict__ values) {
  const int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (int64_t)C * N) return;
  const int32_t* q = rects + idx * 4;
  const int x0 = q[0], x1 = q[1], y0 = q[2], y1 = q[3];
  if (x1 <= x0 || y1 <= y0) return;
  int64_t k = pair_ends[idx] - (int64_t)(x1 - x0) * (y1 - y0);
  const int c = (int)(idx / N), n = (int)(idx % N);
  const DepthKey dk = depth_key(depths[idx]);
  const uint64_t cam_tile = (uint64_t)c * TX * TY;
  for (int ty = y0; ty < y1; ++ty) {
    for (int tx = x0; tx < x1; ++tx, ++k) {
      const uint64_t tile = cam_tile + (uint64_t)ty * TX + tx;
      if constexpr (sizeof(DepthKey) == 4) {
        keys[k] = (tile << 32) | (uint64_t)dk;
      } else {
        keys[k] = (uint64_t)dk;
        tile_keys[k] = tile;
      }
      values[k] = n;
    }
  }
}

__global__ void iota_kernel(int32_t* __restrict__ out, int64_t n) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = (int32_t)i;
}

// tile_keys_out[i] = tile_keys[perm[i]], values_out[i] = values[perm[i]].
__global__ void gather_kernel(const int32_t* __restrict__ perm, const uint64_t* __restrict__ tile_keys,
                              const int32_t* __restrict__ values, uint64_t* __restrict__ tile_keys_out,
                              int32_t* __restrict__ values_out, int64_t n) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int32_t p = perm[i];
  tile_keys_out[i] = tile_keys[p];
  values_out[i] = values[p];
}

int bits_for(uint64_t n) {  // smallest b with 2^b >= n (at least 1)
  int b = 1;
  while (b < 64 && (1ull << b) < n) ++b;
  return b;
}

template <typename P>
P* take(Scratch s, int64_t count) {
  return static_cast<P*>(s.alloc(s.ctx, (std::size_t)(count > 0 ? count : 1) * sizeof(P)));
}

}  // namespace

template <typename T>
int bin_count(int C, int N, const T* means2d, const int32_t* radii, int width, int height, int32_t* rects,
              int64_t* pair_ends, int64_t* tile_offsets, int64_t* num_pairs, Scratch scratch, void* stream_) {
  cudaStream_t stream = as_stream(stream_);
  const int TX = (width + TILE_SIZE - 1) / TILE_SIZE, TY = (height + TILE_SIZE - 1) / TILE_SIZE;
  const int64_t n_tiles = (int64_t)C * TX * TY, CN = (int64_t)C * N;
  *num_pairs = 0;
  if (n_tiles <= 0 || n_tiles > INT_MAX || CN > INT_MAX) return ERROR_BAD_ARGUMENT;
  S2S_TRY(cudaMemsetAsync(tile_offsets, 0, (n_tiles + 1) * sizeof(int64_t), stream));
  if (CN == 0) return 0;

  int64_t* counts = take<int64_t>(scratch, CN);
  unsigned long long* tile_counts = take<unsigned long long>(scratch, n_tiles);
  if (!counts || !tile_counts) return (int)cudaErrorMemoryAllocation;
  S2S_TRY(cudaMemsetAsync(tile_counts, 0, n_tiles * sizeof(unsigned long long), stream));
  tile_rects_kernel<T><<<grid_for(CN), BLOCK, 0, stream>>>(C, N, means2d, radii, TX, TY, rects, counts, tile_counts);
  S2S_TRY(cudaGetLastError());

  // Running sums: pair_ends over Gaussians, tile_offsets[1:] over tiles.
  const auto* tc = reinterpret_cast<const int64_t*>(tile_counts);
  std::size_t bytes_a = 0, bytes_b = 0;
  S2S_TRY(inclusive_sum(nullptr, bytes_a, counts, pair_ends, (int)CN, stream));
  S2S_TRY(inclusive_sum(nullptr, bytes_b, tc, tile_offsets + 1, (int)n_tiles, stream));
  void* temp = scratch.alloc(scratch.ctx, bytes_a > bytes_b ? bytes_a : bytes_b);
  if (!temp) return (int)cudaErrorMemoryAllocation;
  S2S_TRY(inclusive_sum(temp, bytes_a, counts, pair_ends, (int)CN, stream));
  S2S_TRY(inclusive_sum(temp, bytes_b, tc, tile_offsets + 1, (int)n_tiles, stream));
  int64_t m = 0;
  S2S_TRY(cudaMemcpyAsync(&m, pair_ends + CN - 1, sizeof(int64_t), cudaMemcpyDeviceToHost, stream));
  S2S_TRY(cudaStreamSynchronize(stream));
  *num_pairs = m;
  return 0;
}

template <typename T>
int bin_sort(int C, int N, const T* depths, int width, int height, const int32_t* rects, const int64_t* pair_ends,
             int64_t num_pairs, int32_t* flat_ids, Scratch scratch, void* stream_) {
  cudaStream_t stream = as_stream(stream_);
  const int TX = (width + TILE_SIZE - 1) / TILE_SIZE, TY = (height + TILE_SIZE - 1) / TILE_SIZE;
  const int64_t n_tiles = (int64_t)C * TX * TY, CN = (int64_t)C * N;
  if (num_pairs == 0) return 0;
  if (num_pairs > INT_MAX) return ERROR_TOO_MANY_INTERSECTIONS;
  if (n_tiles <= 0 || n_tiles > INT_MAX || CN > INT_MAX) return ERROR_BAD_ARGUMENT;
  const int M = (int)num_pairs;
  const int tile_bits = bits_for((uint64_t)n_tiles);

  if constexpr (sizeof(T) == 4) {
    // One sort: key = tile << 32 | depth bits, only the bits in use.
    uint64_t* keys = take<uint64_t>(scratch, M);
    uint64_t* keys_sorted = take<uint64_t>(scratch, M);
    int32_t* values = take<int32_t>(scratch, M);
    if (!keys || !keys_sorted || !values) return (int)cudaErrorMemoryAllocation;
    emit_pairs_kernel<T, uint32_t>
        <<<grid_for(CN), BLOCK, 0, stream>>>(C, N, depths, TX, TY, rects, pair_ends, keys, nullptr, values);
    S2S_TRY(cudaGetLastError());
    const int end_bit = 32 + tile_bits;
    std::size_t bytes = 0;
    S2S_TRY(sort_pairs(nullptr, bytes, keys, keys_sorted, values, flat_ids, M, end_bit, stream));
    void* temp = scratch.alloc(scratch.ctx, bytes);
    if (!temp) return (int)cudaErrorMemoryAllocation;
    return (int)sort_pairs(temp, bytes, keys, keys_sorted, values, flat_ids, M, end_bit, stream);
  } else {
    // Two stable sorts: by depth, then by tile (a permutation carries the tile keys and ids).
    uint64_t* keys = take<uint64_t>(scratch, M);
    uint64_t* keys_sorted = take<uint64_t>(scratch, M);
    uint64_t* tile_keys = take<uint64_t>(scratch, M);
    uint64_t* tile_keys_b = take<uint64_t>(scratch, M);
    uint64_t* tile_keys_sorted = take<uint64_t>(scratch, M);
    int32_t* values = take<int32_t>(scratch, M);
    int32_t* values_b = take<int32_t>(scratch, M);
    int32_t* order = take<int32_t>(scratch, M);
    int32_t* perm = take<int32_t>(scratch, M);
    if (!keys || !keys_sorted || !tile_keys || !tile_keys_b || !tile_keys_sorted || !values || !values_b ||
        !order || !perm)
      return (int)cudaErrorMemoryAllocation;
    emit_pairs_kernel<T, uint64_t>
        <<<grid_for(CN), BLOCK, 0, stream>>>(C, N, depths, TX, TY, rects, pair_ends, keys, tile_keys, values);
    S2S_TRY(cudaGetLastError());
    iota_kernel<<<grid_for(M), BLOCK, 0, stream>>>(order, M);
    S2S_TRY(cudaGetLastError());
    std::size_t bytes_a = 0, bytes_b = 0;
    S2S_TRY(sort_pairs(nullptr, bytes_a, keys, keys_sorted, order, perm, M, 64, stream));
    S2S_TRY(sort_pairs(nullptr, bytes_b, tile_keys_b, tile_keys_sorted, values_b, flat_ids, M, tile_bits, stream));
    void* temp = scratch.alloc(scratch.ctx, bytes_a > bytes_b ? bytes_a : bytes_b);
    if (!temp) return (int)cudaErrorMemoryAllocation;
    S2S_TRY(sort_pairs(temp, bytes_a, keys, keys_sorted, order, perm, M, 64, stream));
    gather_kernel<<<grid_for(M), BLOCK, 0, stream>>>(perm, tile_keys, values, tile_keys_b, values_b, M);
    S2S_TRY(cudaGetLastError());
    return (int)sort_pairs(temp, bytes_b, tile_keys_b, tile_keys_sorted, values_b, flat_ids, M, tile_bits, stream);
  }
}

#define S2S_INSTANTIATE(T)                                                                                       \
  template int bin_count<T>(int, int, const T*, const int32_t*, int, int, int32_t*, int64_t*, int64_t*, int64_t*, \
                            Scratch, void*);                                                                     \
  template int bin_sort<T>(int, int, const T*, int, int, const int32_t*, const int64_t*, int64_t, int32_t*,      \
                           Scratch, void*);
S2S_INSTANTIATE(float)
S2S_INSTANTIATE(double)
#undef S2S_INSTANTIATE

}  // namespace cuda
}  // namespace s2s
