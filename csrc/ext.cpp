// Thin PyTorch binding of the CPU kernels (csrc/cpu/). Checks devices, dtypes and
// contiguity, allocates outputs and dispatches on float / double. The autograd wrappers
// live in splat2sim/render/native.py.
#include <torch/extension.h>

#include <vector>

#include "cpu/kernels.h"

namespace {

void check_input(const torch::Tensor& t, const char* name, at::ScalarType dtype) {
  TORCH_CHECK(t.device().is_cpu(), "splat2sim native (CPU): ", name, " must be a CPU tensor");
  TORCH_CHECK(t.is_contiguous(), "splat2sim native: ", name, " must be contiguous");
  TORCH_CHECK(t.scalar_type() == dtype, "splat2sim native: ", name, " has dtype ", t.scalar_type(),
              ", expected ", dtype);
}

#define S2S_DISPATCH(dtype, ...)                                            \
  [&] {                                                                     \
    if (dtype == at::kFloat) {                                              \
      using scalar_t = float;                                               \
      return __VA_ARGS__();                                                 \
    } else if (dtype == at::kDouble) {                                      \
      using scalar_t = double;                                              \
      return __VA_ARGS__();                                                 \
    }                                                                       \
    TORCH_CHECK(false, "splat2sim native: unsupported dtype ", dtype, " (use float32 or float64)"); \
  }()

std::vector<torch::Tensor> project_forward(torch::Tensor means, torch::Tensor quats,
                                           torch::Tensor log_scales, torch::Tensor viewmats,
                                           torch::Tensor intrinsics, int64_t width, int64_t height,
                                           double near_plane, double far_plane) {
  const auto dt = means.scalar_type();
  check_input(means, "means", dt);
  check_input(quats, "quats", dt);
  check_input(log_scales, "log_scales", dt);
  check_input(viewmats, "viewmats", dt);
  check_input(intrinsics, "intrinsics", dt);
  const int N = means.size(0), C = viewmats.size(0);
  auto opts = means.options();
  auto means2d = torch::empty({C, N, 2}, opts);
  auto conics = torch::empty({C, N, 3}, opts);
  auto depths = torch::empty({C, N}, opts);
  auto radii = torch::empty({C, N}, opts.dtype(torch::kInt32));
  S2S_DISPATCH(dt, [&] {
    s2s::cpu::project_forward<scalar_t>(
        C, N, means.data_ptr<scalar_t>(), quats.data_ptr<scalar_t>(), log_scales.data_ptr<scalar_t>(),
        viewmats.data_ptr<scalar_t>(), intrinsics.data_ptr<scalar_t>(), width, height, (scalar_t)near_plane,
        (scalar_t)far_plane, means2d.data_ptr<scalar_t>(), conics.data_ptr<scalar_t>(),
        depths.data_ptr<scalar_t>(), radii.data_ptr<int32_t>());
  });
  return {means2d, conics, depths, radii};
}

std::vector<torch::Tensor> project_backward(torch::Tensor means, torch::Tensor quats,
                                            torch::Tensor log_scales, torch::Tensor viewmats,
                                            torch::Tensor intrinsics, int64_t width, int64_t height,
                                            double near_plane, double far_plane, torch::Tensor radii,
                                            torch::Tensor g_means2d, torch::Tensor g_conics,
                                            torch::Tensor g_depths) {
  const auto dt = means.scalar_type();
  check_input(radii, "radii", torch::kInt32);
  check_input(g_means2d, "g_means2d", dt);
  check_input(g_conics, "g_conics", dt);
  check_input(g_depths, "g_depths", dt);
  const int N = means.size(0), C = viewmats.size(0);
  auto g_means = torch::empty_like(means);
  auto g_quats = torch::empty_like(quats);
  auto g_log_scales = torch::empty_like(log_scales);
  S2S_DISPATCH(dt, [&] {
    s2s::cpu::project_backward<scalar_t>(
        C, N, means.data_ptr<scalar_t>(), quats.data_ptr<scalar_t>(), log_scales.data_ptr<scalar_t>(),
        viewmats.data_ptr<scalar_t>(), intrinsics.data_ptr<scalar_t>(), width, height, (scalar_t)near_plane,
        (scalar_t)far_plane, radii.data_ptr<int32_t>(), g_means2d.data_ptr<scalar_t>(),
        g_conics.data_ptr<scalar_t>(), g_depths.data_ptr<scalar_t>(), g_means.data_ptr<scalar_t>(),
        g_quats.data_ptr<scalar_t>(), g_log_scales.data_ptr<scalar_t>());
  });
  return {g_means, g_quats, g_log_scales};
}

torch::Tensor sh_forward(int64_t degree, torch::Tensor dirs, torch::Tensor coeffs) {
  const auto dt = dirs.scalar_type();
  check_input(dirs, "dirs", dt);
  check_input(coeffs, "coeffs", dt);
  const int C = dirs.size(0), N = dirs.size(1), K = coeffs.size(1);
  TORCH_CHECK(degree >= 0 && degree <= 3 && (degree + 1) * (degree + 1) <= K,
              "splat2sim native: SH degree ", degree, " needs ", (degree + 1) * (degree + 1),
              " coefficients, have ", K);
  auto colors = torch::empty({C, N, 3}, dirs.options());
  S2S_DISPATCH(dt, [&] {
    s2s::cpu::sh_forward<scalar_t>(degree, K, C, N, dirs.data_ptr<scalar_t>(), coeffs.data_ptr<scalar_t>(),
                                   colors.data_ptr<scalar_t>());
  });
  return colors;
}

std::vector<torch::Tensor> sh_backward(int64_t degree, torch::Tensor dirs, torch::Tensor coeffs,
                                       torch::Tensor g_colors) {
  const auto dt = dirs.scalar_type();
  check_input(g_colors, "g_colors", dt);
  const int C = dirs.size(0), N = dirs.size(1), K = coeffs.size(1);
  auto g_dirs = torch::empty_like(dirs);
  auto g_coeffs = torch::empty_like(coeffs);
  S2S_DISPATCH(dt, [&] {
    s2s::cpu::sh_backward<scalar_t>(degree, K, C, N, dirs.data_ptr<scalar_t>(), coeffs.data_ptr<scalar_t>(),
                                    g_colors.data_ptr<scalar_t>(), g_dirs.data_ptr<scalar_t>(),
                                    g_coeffs.data_ptr<scalar_t>());
  });
  return {g_dirs, g_coeffs};
}

std::vector<torch::Tensor> bin_gaussians(torch::Tensor means2d, torch::Tensor radii, torch::Tensor depths,
                                         int64_t width, int64_t height) {
  const auto dt = means2d.scalar_type();
  check_input(means2d, "means2d", dt);
  check_input(radii, "radii", torch::kInt32);
  check_input(depths, "depths", dt);
  const int C = means2d.size(0), N = means2d.size(1);
  std::vector<int64_t> offsets;
  std::vector<int32_t> ids;
  S2S_DISPATCH(dt, [&] {
    s2s::cpu::bin_gaussians<scalar_t>(C, N, means2d.data_ptr<scalar_t>(), radii.data_ptr<int32_t>(),
                                      depths.data_ptr<scalar_t>(), width, height, offsets, ids);
  });
  auto t_offsets = torch::empty({(int64_t)offsets.size()}, torch::kInt64);
  auto t_ids = torch::empty({(int64_t)ids.size()}, torch::kInt32);
  std::copy(offsets.begin(), offsets.end(), t_offsets.data_ptr<int64_t>());
  std::copy(ids.begin(), ids.end(), t_ids.data_ptr<int32_t>());
  return {t_offsets, t_ids};
}

std::vector<torch::Tensor> rasterize_forward(torch::Tensor means2d, torch::Tensor conics, torch::Tensor feats,
                                             torch::Tensor opacities, torch::Tensor tile_offsets,
                                             torch::Tensor flat_ids, int64_t width, int64_t height,
                                             int64_t top_k) {
  const auto dt = means2d.scalar_type();
  check_input(means2d, "means2d", dt);
  check_input(conics, "conics", dt);
  check_input(feats, "feats", dt);
  check_input(opacities, "opacities", dt);
  check_input(tile_offsets, "tile_offsets", torch::kInt64);
  check_input(flat_ids, "flat_ids", torch::kInt32);
  const int C = means2d.size(0), N = means2d.size(1), D = feats.size(2);
  auto opts = means2d.options();
  auto out = torch::empty({C, height, width, D}, opts);
  auto alpha = torch::empty({C, height, width, 1}, opts);
  auto last = torch::empty({C, height, width}, opts.dtype(torch::kInt64));
  auto median = torch::empty({C, height, width}, opts.dtype(torch::kInt32));
  auto topk_ids = torch::empty({C, height, width, top_k}, opts.dtype(torch::kInt32));
  auto topk_w = torch::empty({C, height, width, top_k}, opts);
  S2S_DISPATCH(dt, [&] {
    s2s::cpu::rasterize_forward<scalar_t>(
        C, N, D, means2d.data_ptr<scalar_t>(), conics.data_ptr<scalar_t>(), feats.data_ptr<scalar_t>(),
        opacities.data_ptr<scalar_t>(), tile_offsets.data_ptr<int64_t>(), flat_ids.data_ptr<int32_t>(), width,
        height, top_k, out.data_ptr<scalar_t>(), alpha.data_ptr<scalar_t>(), last.data_ptr<int64_t>(),
        median.data_ptr<int32_t>(), topk_ids.data_ptr<int32_t>(), topk_w.data_ptr<scalar_t>());
  });
  return {out, alpha, last, median, topk_ids, topk_w};
}

std::vector<torch::Tensor> rasterize_backward(torch::Tensor means2d, torch::Tensor conics, torch::Tensor feats,
                                              torch::Tensor opacities, torch::Tensor tile_offsets,
                                              torch::Tensor flat_ids, int64_t width, int64_t height,
                                              torch::Tensor alpha, torch::Tensor last, torch::Tensor g_out,
                                              torch::Tensor g_alpha) {
  const auto dt = means2d.scalar_type();
  check_input(alpha, "alpha", dt);
  check_input(last, "last", torch::kInt64);
  check_input(g_out, "g_out", dt);
  check_input(g_alpha, "g_alpha", dt);
  const int C = means2d.size(0), N = means2d.size(1), D = feats.size(2);
  auto g_means2d = torch::empty_like(means2d);
  auto g_conics = torch::empty_like(conics);
  auto g_feats = torch::empty_like(feats);
  auto g_opacities = torch::empty_like(opacities);
  S2S_DISPATCH(dt, [&] {
    s2s::cpu::rasterize_backward<scalar_t>(
        C, N, D, means2d.data_ptr<scalar_t>(), conics.data_ptr<scalar_t>(), feats.data_ptr<scalar_t>(),
        opacities.data_ptr<scalar_t>(), tile_offsets.data_ptr<int64_t>(), flat_ids.data_ptr<int32_t>(), width,
        height, alpha.data_ptr<scalar_t>(), last.data_ptr<int64_t>(), g_out.data_ptr<scalar_t>(),
        g_alpha.data_ptr<scalar_t>(), g_means2d.data_ptr<scalar_t>(), g_conics.data_ptr<scalar_t>(),
        g_feats.data_ptr<scalar_t>(), g_opacities.data_ptr<scalar_t>());
  });
  return {g_means2d, g_conics, g_feats, g_opacities};
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "splat2sim native CPU kernels (see splat2sim/render/native.py)";
  m.def("project_forward", &project_forward);
  m.def("project_backward", &project_backward);
  m.def("sh_forward", &sh_forward);
  m.def("sh_backward", &sh_backward);
  m.def("bin_gaussians", &bin_gaussians);
  m.def("rasterize_forward", &rasterize_forward);
  m.def("rasterize_backward", &rasterize_backward);
  m.attr("ABI_VERSION") = 1;
}
