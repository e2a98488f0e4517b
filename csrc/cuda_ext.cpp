// Thin PyTorch binding of the CUDA kernels (csrc/cuda/). Same functions, arguments and
// outputs as the CPU binding (csrc/ext.cpp), so the autograd wrappers in
// splat2sim/render/native.py serve both; built on a CUDA machine only, by
// splat2sim/render/native_cuda.py (torch.utils.cpp_extension with the .cu sources).
//
// Checks devices, dtypes and contiguity, allocates outputs on the tensors' device, runs
// the launchers on torch's current stream and turns their error codes into exceptions.
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/extension.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cuda/kernels.h"
#include "splat2sim/common.h"

namespace {

namespace kc = s2s::cuda;

void check_input(const torch::Tensor& t, const char* name, at::ScalarType dtype, const torch::Device& device) {
  TORCH_CHECK(t.is_cuda(), "splat2sim native (CUDA): ", name, " must be a CUDA tensor, got one on ", t.device());
  TORCH_CHECK(t.device() == device, "splat2sim native (CUDA): ", name, " is on ", t.device(), ", expected ", device);
  TORCH_CHECK(t.is_contiguous(), "splat2sim native (CUDA): ", name, " must be contiguous");
  TORCH_CHECK(t.scalar_type() == dtype, "splat2sim native (CUDA): ", name, " has dtype ", t.scalar_type(),
              ", expected ", dtype);
}

void* current_stream(const torch::Device& device) {
  return static_cast<void*>(c10::cuda::getCurrentCUDAStream(device.index()).stream());
}

// Temporaries of the binning, from torch's caching allocator; freed when the pool goes
// out of scope (stream-ordered, so work still queued on the stream keeps them valid).
struct ScratchPool {
  torch::TensorOptions opts;
  std::vector<torch::Tensor> blocks;
  std::string error;

  explicit ScratchPool(const torch::Device& device) : opts(torch::dtype(torch::kUInt8).device(device)) {}

  static void* alloc(void* ctx, std::size_t bytes) {
    auto* self = static_cast<ScratchPool*>(ctx);
    try {
      self->blocks.push_back(torch::empty({(int64_t)std::max<std::size_t>(bytes, 1)}, self->opts));
      return self->blocks.back().data_ptr();
    } catch (const std::exception& e) {  // never let an exception cross into the launcher
      self->error = e.what();
      return nullptr;
    }
  }

  kc::Scratch scratch() { return kc::Scratch{&ScratchPool::alloc, this}; }
};

void check_launch(int code, const char* what, const ScratchPool* pool = nullptr) {
  if (code == 0) return;
  std::string detail = kc::error_string(code);
  if (pool && !pool->error.empty()) detail += " (" + pool->error + ")";
  TORCH_CHECK(false, "splat2sim native (CUDA): ", what, " failed: ", detail);
}

#define S2S_DISPATCH(dtype, ...)                                                                      \
  [&] {                                                                                               \
    if (dtype == at::kFloat) {                                                                        \
      using scalar_t = float;                                                                         \
      return __VA_ARGS__();                                                                           \
    } else if (dtype == at::kDouble) {                                                                \
      using scalar_t = double;                                                                        \
      return __VA_ARGS__();                                                                           \
    }                                                                                                 \
    TORCH_CHECK(false, "splat2sim native (CUDA): unsupported dtype ", dtype, " (use float32 or float64)"); \
  }()

std::vector<torch::Tensor> project_forward(torch::Tensor means, torch::Tensor quats, torch::Tensor log_scales,
                                           torch::Tensor viewmats, torch::Tensor intrinsics, int64_t width,
                                           int64_t height, double near_plane, double far_plane) {
  const auto dt = means.scalar_type();
  const auto dev = means.device();
  check_input(means, "means", dt, dev);
  check_input(quats, "quats", dt, dev);
  check_input(log_scales, "log_scales", dt, dev);
  check_input(viewmats, "viewmats", dt, dev);
  check_input(intrinsics, "intrinsics", dt, dev);
  const c10::cuda::CUDAGuard guard(dev);
  const int N = means.size(0), C = viewmats.size(0);
  auto opts = means.options();
  auto means2d = torch::empty({C, N, 2}, opts);
  auto conics = torch::empty({C, N, 3}, opts);
  auto depths = torch::empty({C, N}, opts);
  auto radii = torch::empty({C, N}, opts.dtype(torch::kInt32));
  S2S_DISPATCH(dt, [&] {
    check_launch(kc::project_forward<scalar_t>(
                     C, N, means.data_ptr<scalar_t>(), quats.data_ptr<scalar_t>(), log_scales.data_ptr<scalar_t>(),
                     viewmats.data_ptr<scalar_t>(), intrinsics.data_ptr<scalar_t>(), width, height,
                     (scalar_t)near_plane, (scalar_t)far_plane, means2d.data_ptr<scalar_t>(),
                     conics.data_ptr<scalar_t>(), depths.data_ptr<scalar_t>(), radii.data_ptr<int32_t>(),
                     current_stream(dev)),
                 "project_forward");
  });
  return {means2d, conics, depths, radii};
}

std::vector<torch::Tensor> project_backward(torch::Tensor means, torch::Tensor quats, torch::Tensor log_scales,
                                            torch::Tensor viewmats, torch::Tensor intrinsics, int64_t width,
                                            int64_t height, double near_plane, double far_plane, torch::Tensor radii,
                                            torch::Tensor g_means2d, torch::Tensor g_conics, torch::Tensor g_depths) {
  const auto dt = means.scalar_type();
  const auto dev = means.device();
  check_input(means, "means", dt, dev);
  check_input(quats, "quats", dt, dev);
  check_input(log_scales, "log_scales", dt, dev);
  check_input(viewmats, "viewmats", dt, dev);
  check_input(intrinsics, "intrinsics", dt, dev);
  check_input(radii, "radii", torch::kInt32, dev);
  check_input(g_means2d, "g_means2d", dt, dev);
  check_input(g_conics, "g_conics", dt, dev);
  check_input(g_depths, "g_depths", dt, dev);
  const c10::cuda::CUDAGuard guard(dev);
  const int N = means.size(0), C = viewmats.size(0);
  auto g_means = torch::empty_like(means);
  auto g_quats = torch::empty_like(quats);
  auto g_log_scales = torch::empty_like(log_scales);
  S2S_DISPATCH(dt, [&] {
    check_launch(kc::project_backward<scalar_t>(
                     C, N, means.data_ptr<scalar_t>(), quats.data_ptr<scalar_t>(), log_scales.data_ptr<scalar_t>(),
                     viewmats.data_ptr<scalar_t>(), intrinsics.data_ptr<scalar_t>(), width, height,
                     (scalar_t)near_plane, (scalar_t)far_plane, radii.data_ptr<int32_t>(),
                     g_means2d.data_ptr<scalar_t>(), g_conics.data_ptr<scalar_t>(), g_depths.data_ptr<scalar_t>(),
                     g_means.data_ptr<scalar_t>(), g_quats.data_ptr<scalar_t>(), g_log_scales.data_ptr<scalar_t>(),
                     current_stream(dev)),
                 "project_backward");
  });
  return {g_means, g_quats, g_log_scales};
}

torch::Tensor sh_forward(int64_t degree, torch::Tensor dirs, torch::Tensor coeffs) {
  const auto dt = dirs.scalar_type();
  const auto dev = dirs.device();
  check_input(dirs, "dirs", dt, dev);
  check_input(coeffs, "coeffs", dt, dev);
  const int C = dirs.size(0), N = dirs.size(1), K = coeffs.size(1);
  TORCH_CHECK(degree >= 0 && degree <= 3 && (degree + 1) * (degree + 1) <= K, "splat2sim native (CUDA): SH degree ",
              degree, " needs ", (degree + 1) * (degree + 1), " coefficients, have ", K);
  const c10::cuda::CUDAGuard guard(dev);
  auto colors = torch::empty({C, N, 3}, dirs.options());
  S2S_DISPATCH(dt, [&] {
    check_launch(kc::sh_forward<scalar_t>(degree, K, C, N, dirs.data_ptr<scalar_t>(), coeffs.data_ptr<scalar_t>(),
                                          colors.data_ptr<scalar_t>(), current_stream(dev)),
                 "sh_forward");
  });
  return colors;
}

std::vector<torch::Tensor> sh_backward(int64_t degree, torch::Tensor dirs, torch::Tensor coeffs,
                                       torch::Tensor g_colors) {
  const auto dt = dirs.scalar_type();
  const auto dev = dirs.device();
  check_input(dirs, "dirs", dt, dev);
  check_input(coeffs, "coeffs", dt, dev);
  check_input(g_colors, "g_colors", dt, dev);
  const int C = dirs.size(0), N = dirs.size(1), K = coeffs.size(1);
  const c10::cuda::CUDAGuard guard(dev);
  auto g_dirs = torch::empty_like(dirs);
  auto g_coeffs = torch::empty_like(coeffs);
  S2S_DISPATCH(dt, [&] {
    check_launch(kc::sh_backward<scalar_t>(degree, K, C, N, dirs.data_ptr<scalar_t>(), coeffs.data_ptr<scalar_t>(),
                                           g_colors.data_ptr<scalar_t>(), g_dirs.data_ptr<scalar_t>(),
                                           g_coeffs.data_ptr<scalar_t>(), current_stream(dev)),
                 "sh_backward");
  });
  return {g_dirs, g_coeffs};
}

std::vector<torch::Tensor> bin_gaussians(torch::Tensor means2d, torch::Tensor radii, torch::Tensor depths,
                                         int64_t width, int64_t height) {
  const auto dt = means2d.scalar_type();
  const auto dev = means2d.device();
  check_input(means2d, "means2d", dt, dev);
  check_input(radii, "radii", torch::kInt32, dev);
  check_input(depths, "depths", dt, dev);
  const c10::cuda::CUDAGuard guard(dev);
  const int C = means2d.size(0), N = means2d.size(1);
  const int64_t TX = (width + s2s::TILE_SIZE - 1) / s2s::TILE_SIZE, TY = (height + s2s::TILE_SIZE - 1) / s2s::TILE_SIZE;
  auto i32 = means2d.options().dtype(torch::kInt32);
  auto i64 = means2d.options().dtype(torch::kInt64);
  auto rects = torch::empty({(int64_t)C * N * 4}, i32);
  auto pair_ends = torch::empty({(int64_t)C * N}, i64);
  auto offsets = torch::empty({C * TX * TY + 1}, i64);
  int64_t num_pairs = 0;
  ScratchPool pool(dev);
  void* stream = current_stream(dev);
  S2S_DISPATCH(dt, [&] {
    check_launch(kc::bin_count<scalar_t>(C, N, means2d.data_ptr<scalar_t>(), radii.data_ptr<int32_t>(), width,
                                         height, rects.data_ptr<int32_t>(), pair_ends.data_ptr<int64_t>(),
                                         offsets.data_ptr<int64_t>(), &num_pairs, pool.scratch(), stream),
                 "bin_count", &pool);
  });
  auto ids = torch::empty({num_pairs}, i32);
  S2S_DISPATCH(dt, [&] {
    check_launch(kc::bin_sort<scalar_t>(C, N, depths.data_ptr<scalar_t>(), width, height, rects.data_ptr<int32_t>(),
                                        pair_ends.data_ptr<int64_t>(), num_pairs, ids.data_ptr<int32_t>(),
                                        pool.scratch(), stream),
                 "bin_sort", &pool);
  });
  return {offsets, ids};
}

std::vector<torch::Tensor> rasterize_forward(torch::Tensor means2d, torch::Tensor conics, torch::Tensor feats,
                                             torch::Tensor opacities, torch::Tensor tile_offsets,
                                             torch::Tensor flat_ids, int64_t width, int64_t height, int64_t top_k) {
  const auto dt = means2d.scalar_type();
  const auto dev = means2d.device();
  check_input(means2d, "means2d", dt, dev);
  check_input(conics, "conics", dt, dev);
  check_input(feats, "feats", dt, dev);
  check_input(opacities, "opacities", dt, dev);
  check_input(tile_offsets, "tile_offsets", torch::kInt64, dev);
  check_input(flat_ids, "flat_ids", torch::kInt32, dev);
  TORCH_CHECK(top_k >= 0, "splat2sim native (CUDA): top_k must be >= 0, got ", top_k);
  const c10::cuda::CUDAGuard guard(dev);
  const int C = means2d.size(0), N = means2d.size(1), D = feats.size(2);
  auto opts = means2d.options();
  auto out = torch::empty({C, height, width, D}, opts);
  auto alpha = torch::empty({C, height, width, 1}, opts);
  auto last = torch::empty({C, height, width}, opts.dtype(torch::kInt64));
  auto median = torch::empty({C, height, width}, opts.dtype(torch::kInt32));
  auto topk_ids = torch::empty({C, height, width, top_k}, opts.dtype(torch::kInt32));
  auto topk_w = torch::empty({C, height, width, top_k}, opts);
  S2S_DISPATCH(dt, [&] {
    check_launch(kc::rasterize_forward<scalar_t>(
                     C, N, D, means2d.data_ptr<scalar_t>(), conics.data_ptr<scalar_t>(), feats.data_ptr<scalar_t>(),
                     opacities.data_ptr<scalar_t>(), tile_offsets.data_ptr<int64_t>(), flat_ids.data_ptr<int32_t>(),
                     width, height, top_k, out.data_ptr<scalar_t>(), alpha.data_ptr<scalar_t>(),
                     last.data_ptr<int64_t>(), median.data_ptr<int32_t>(), topk_ids.data_ptr<int32_t>(),
                     topk_w.data_ptr<scalar_t>(), current_stream(dev)),
                 "rasterize_forward");
  });
  return {out, alpha, last, median, topk_ids, topk_w};
}

std::vector<torch::Tensor> rasterize_backward(torch::Tensor means2d, torch::Tensor conics, torch::Tensor feats,
                                              torch::Tensor opacities, torch::Tensor tile_offsets,
                                              torch::Tensor flat_ids, int64_t width, int64_t height,
                                              torch::Tensor alpha, torch::Tensor last, torch::Tensor g_out,
                                              torch::Tensor g_alpha) {
  const auto dt = means2d.scalar_type();
  const auto dev = means2d.device();
  check_input(means2d, "means2d", dt, dev);
  check_input(conics, "conics", dt, dev);
  check_input(feats, "feats", dt, dev);
  check_input(opacities, "opacities", dt, dev);
  check_input(tile_offsets, "tile_offsets", torch::kInt64, dev);
  check_input(flat_ids, "flat_ids", torch::kInt32, dev);
  check_input(alpha, "alpha", dt, dev);
  check_input(last, "last", torch::kInt64, dev);
  check_input(g_out, "g_out", dt, dev);
  check_input(g_alpha, "g_alpha", dt, dev);
  const c10::cuda::CUDAGuard guard(dev);
  const int C = means2d.size(0), N = means2d.size(1), D = feats.size(2);
  // Accumulated with atomics: start from zero.
  auto g_means2d = torch::zeros_like(means2d);
  auto g_conics = torch::zeros_like(conics);
  auto g_feats = torch::zeros_like(feats);
  auto g_opacities = torch::zeros_like(opacities);
  S2S_DISPATCH(dt, [&] {
    check_launch(kc::rasterize_backward<scalar_t>(
                     C, N, D, means2d.data_ptr<scalar_t>(), conics.data_ptr<scalar_t>(), feats.data_ptr<scalar_t>(),
                     opacities.data_ptr<scalar_t>(), tile_offsets.data_ptr<int64_t>(), flat_ids.data_ptr<int32_t>(),
                     width, height, alpha.data_ptr<scalar_t>(), last.data_ptr<int64_t>(), g_out.data_ptr<scalar_t>(),
                     g_alpha.data_ptr<scalar_t>(), g_means2d.data_ptr<scalar_t>(), g_conics.data_ptr<scalar_t>(),
                     g_feats.data_ptr<scalar_t>(), g_opacities.data_ptr<scalar_t>(), current_stream(dev)),
                 "rasterize_backward");
  });
  return {g_means2d, g_conics, g_feats, g_opacities};
}

// Compute capability of the kernel image that runs on `device` (e.g. 900), 0 if the
// extension holds none for it (it was built for other architectures).
int64_t compiled_arch(int64_t device) {
  const c10::cuda::CUDAGuard guard((c10::DeviceIndex)device);
  return kc::compiled_arch();
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "splat2sim native CUDA kernels (see splat2sim/render/native.py and native_cuda.py)";
  m.def("project_forward", &project_forward);
  m.def("project_backward", &project_backward);
  m.def("sh_forward", &sh_forward);
  m.def("sh_backward", &sh_backward);
  m.def("bin_gaussians", &bin_gaussians);
  m.def("rasterize_forward", &rasterize_forward);
  m.def("rasterize_backward", &rasterize_backward);
  m.def("compiled_arch", &compiled_arch);
  m.attr("ABI_VERSION") = 1;
}
