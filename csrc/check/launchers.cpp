// Compile check: the CUDA launcher interface (csrc/cuda/kernels.h) is plain C++ that a
// host compiler includes without CUDA or PyTorch headers (csrc/cuda_ext.cpp relies on it).
// Taking every launcher's address checks the declarations for float and double.
//   g++ -std=c++17 -Wall -Wextra -Werror -I csrc -c csrc/check/launchers.cpp -o /dev/null
#include "cuda/kernels.h"

namespace {

template <typename T>
struct Launchers {
  decltype(&s2s::cuda::project_forward<T>) project_forward = &s2s::cuda::project_forward<T>;
  decltype(&s2s::cuda::project_backward<T>) project_backward = &s2s::cuda::project_backward<T>;
  decltype(&s2s::cuda::sh_forward<T>) sh_forward = &s2s::cuda::sh_forward<T>;
  decltype(&s2s::cuda::sh_backward<T>) sh_backward = &s2s::cuda::sh_backward<T>;
  decltype(&s2s::cuda::bin_count<T>) bin_count = &s2s::cuda::bin_count<T>;
  decltype(&s2s::cuda::bin_sort<T>) bin_sort = &s2s::cuda::bin_sort<T>;
  decltype(&s2s::cuda::rasterize_forward<T>) rasterize_forward = &s2s::cuda::rasterize_forward<T>;
  decltype(&s2s::cuda::rasterize_backward<T>) rasterize_backward = &s2s::cuda::rasterize_backward<T>;
};

}  // namespace

const void* splat2sim_check_launchers() {
  static const Launchers<float> f;
  static const Launchers<double> d;
  static const s2s::cuda::Scratch s{nullptr, nullptr};
  static const void* all[] = {&f, &d, &s, (const void*)&s2s::cuda::error_string,
                              (const void*)&s2s::cuda::compiled_arch};
  return all;
}
