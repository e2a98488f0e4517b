"""Splat training pieces on scenes with a known answer: PLY layout, densification, fitting."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from splat2sim.errors import ConfigError, InputError
from splat2sim.io.gaussians_ply import read_gaussians_ply, write_gaussians_ply
from splat2sim.render import Cameras, Gaussians, render
from splat2sim.stages.splat import train as T
from splat2sim.stages.splat.config import SplatConfig


def random_splat(n: int, k: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "means": rng.normal(size=(n, 3)).astype(np.float32),
        "log_scales": rng.normal(-3, 0.5, size=(n, 3)).astype(np.float32),
        "quats": rng.normal(size=(n, 4)).astype(np.float32),
        "opacity_logits": rng.normal(size=n).astype(np.float32),
        "sh": rng.normal(size=(n, k, 3)).astype(np.float32),
    }


@pytest.mark.parametrize("k", [1, 4, 16])
def test_ply_roundtrip(tmp_path, k):
    data = random_splat(50, k)
    write_gaussians_ply(tmp_path / "g.ply", data["means"], data["log_scales"], data["quats"], data["opacity_logits"], data["sh"])
    back = read_gaussians_ply(tmp_path / "g.ply")
    for key in data:
        np.testing.assert_array_equal(back[key], data[key])


def test_ply_follows_the_3dgs_layout(tmp_path):
    """f_rest is channel-major (all red coefficients, then green, then blue), as 3DGS writes."""
    data = random_splat(3, 4)
    write_gaussians_ply(tmp_path / "g.ply", data["means"], data["log_scales"], data["quats"], data["opacity_logits"], data["sh"])
    raw = (tmp_path / "g.ply").read_bytes()
    header, body = raw.split(b"end_header\n")
    names = [line.split()[-1].decode() for line in header.splitlines() if line.startswith(b"property")]
    assert names[:9] == ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    assert names[-8:] == ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    values = np.frombuffer(body, "<f4").reshape(3, len(names))
    rest = values[:, 9:18]
    assert rest[0, 0] == data["sh"][0, 1, 0] and rest[0, 1] == data["sh"][0, 2, 0] and rest[0, 3] == data["sh"][0, 1, 1]


def test_point_cloud_is_not_a_splat(tmp_path):
    path = tmp_path / "cloud.ply"
    path.write_bytes(
        b"ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n"
        + np.zeros(3, "<f4").tobytes()
    )
    with pytest.raises(InputError, match="not a 3DGS splat PLY"):
        read_gaussians_ply(path)
    with pytest.raises(InputError, match="does not exist"):
        read_gaussians_ply(tmp_path / "none.ply")


def ring_cameras(count: int, width: int = 64, height: int = 48, radius: float = 3.0) -> Cameras:
    poses = []
    for i in range(count):
        a = 2 * math.pi * i / count
        centre = np.array([radius * math.cos(a), radius * math.sin(a), 1.0])
        forward = -centre / np.linalg.norm(centre)
        right = np.cross(forward, [0, 0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        m = np.eye(4)
        m[:3, :3] = np.stack([right, down, forward], axis=1)
        m[:3, 3] = centre
        poses.append(m)
    intr = torch.tensor([[60.0, 60.0, width / 2, height / 2]] * count)
    return Cameras(torch.tensor(np.stack(poses), dtype=torch.float32), intr, width, height)


def test_training_fits_a_known_scene():
    """Render a ground-truth splat, start from its points with wrong colours and sizes,
    and check that training recovers the images (train and held-out views)."""
    _fit_known_scene("cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_fits_a_known_scene_on_cuda():
    """The same training, every tensor on the GPU (the native backend's CUDA kernels)."""
    _fit_known_scene("cuda")


def _known_scene(device: str = "cpu"):
    truth = random_splat(150, 1, seed=3)
    truth["means"] *= 0.5
    truth["opacity_logits"] = np.full(150, 2.0, np.float32)
    truth["log_scales"] = np.full((150, 3), math.log(0.12), np.float32)
    return truth, Gaussians(*(torch.tensor(truth[k], device=device) for k in ("means", "log_scales", "quats", "opacity_logits", "sh")))


def test_downsampled_views_see_what_their_pixel_blocks_cover():
    _, gt = _known_scene()
    cams = ring_cameras(4)  # 64 x 48
    with torch.no_grad():
        views = T.TrainViews(render(gt, cams, backend="native").rgb.clamp(0, 1), cams, [0, 1, 2, 3], [])
    small = views.downsampled(2)
    assert small.images.shape == (4, 24, 32, 3) and (small.cameras.width, small.cameras.height) == (32, 24)
    assert torch.allclose(small.images[0, 3, 5], views.images[0, 6:8, 10:12].mean((0, 1)))  # area averaging
    with torch.no_grad():
        rendered = render(gt, small.cameras, backend="native").rgb.clamp(0, 1)
    # rendering at the small size samples each Gaussian at the block's centre where the
    # images average four samples: 0.014 mean difference measured; a camera off by a quarter
    # of a small pixel (the corner-vs-centre slip of cx/2 against (cx - 0.5)/2) gives 0.022
    assert float((rendered - small.images).abs().mean()) < 0.018
    assert views.downsampled(1) is views
    with pytest.raises(ConfigError, match="under 8 pixels"):
        views.downsampled(8)


def test_coarse_to_fine_training_fits_the_known_scene():
    """Half of the steps at half the size: the same fit as all of them at full size."""
    _fit_known_scene("cpu", coarse_fraction=0.5)


def _fit_known_scene(device: str, coarse_fraction: float = 0.0) -> None:
    torch.manual_seed(0)
    truth, gt = _known_scene(device)
    cams = ring_cameras(10).to(device=device)
    with torch.no_grad():
        images = render(gt, cams, backend="native").rgb.clamp(0, 1)
    views = T.TrainViews(images, cams, train=[i for i in range(10) if i % 5], test=[0, 5])
    init = T.initial_gaussians(
        truth["means"] + np.random.default_rng(1).normal(0, 0.02, (150, 3)).astype(np.float32),
        np.full((150, 3), 0.5, np.float32),
        sh_degree=0,
        opacity=0.1,
    )
    cfg = SplatConfig(iterations=300, sh_degree=0, densify_from=50, densify_until=200, densify_every=50, max_gaussians=400, opacity_reset_every=0,
                      coarse_fraction=coarse_fraction)  # fmt: skip
    model = T.SplatModel(
        init,
        {
            "means": cfg.lr_means * 3,
            "log_scales": cfg.lr_scales,
            "quats": cfg.lr_quats,
            "opacity_logits": cfg.lr_opacity,
            "sh_dc": cfg.lr_sh_dc * 4,
            "sh_rest": cfg.lr_sh_dc,
        },
        device=device,
    )
    before = T.evaluate(model.gaussians(), views, views.test, backend="native")
    history = T.train(model, views, cfg, backend="native", seed=0)
    after = T.evaluate(model.gaussians(), views, views.test, backend="native")
    assert after["psnr"] > before["psnr"] + 2.5, (before, after)
    assert after["ssim"] > 1.8 * before["ssim"], (before, after)
    assert len(after["psnr_per_view"]) == after["views"] == 2
    assert after["psnr"] == pytest.approx(np.mean(after["psnr_per_view"]), abs=1e-3)
    assert np.mean(history["loss"][-20:]) < 0.5 * np.mean(history["loss"][:20])
    assert model.num <= cfg.max_gaussians
    assert history["coarse_steps"] == round(300 * coarse_fraction)


def test_densify_clone_split_prune_keep_optimizer_state_aligned():
    init = T.initial_gaussians(np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32), np.full((40, 3), 0.5, np.float32), 1, 0.1)
    model = T.SplatModel(init, {name: 1e-3 for name in T.PARAMS})
    out = render(model.gaussians(), ring_cameras(1), backend="torch")
    out.rgb.mean().backward()
    model.optimizer.step()
    with torch.no_grad():
        model.params["log_scales"][:10] = math.log(1.0)  # big: these split
        model.params["log_scales"][10:20] = math.log(1e-3)  # small: these clone
        model.params["opacity_logits"][30:] = -10  # transparent: pruned
    grad = torch.zeros(40)
    grad[:20] = 1.0
    cfg = SplatConfig(percent_dense=0.01, max_gaussians=1000, prune_opacity=0.005)
    stats = model.densify_and_prune(grad, extent=10.0, cfg=cfg, big_world=False, generator=torch.Generator().manual_seed(0))
    assert stats["split"] == 10 and stats["cloned"] == 10 and stats["pruned"] == 10
    assert model.num == 40 - 10 + 20 + 10 - 10
    for group in model.optimizer.param_groups:
        p = group["params"][0]
        assert p.shape[0] == model.num
        assert model.optimizer.state[p]["exp_avg"].shape == p.shape
    # split children are smaller than their parent by 1.6x
    assert torch.allclose(model.params["log_scales"][-20:], torch.full((20, 3), -math.log(1.6)), atol=1e-5)


def test_densify_respects_the_cap():
    init = T.initial_gaussians(np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32), np.full((40, 3), 0.5, np.float32), 0, 0.5)
    model = T.SplatModel(init, {name: 1e-3 for name in T.PARAMS})
    cfg = SplatConfig(max_gaussians=45, prune_opacity=0.0)
    model.densify_and_prune(torch.ones(40), extent=1000.0, cfg=cfg, big_world=False, generator=torch.Generator().manual_seed(0))
    assert model.num == 45


def test_ply_from_another_writer_imports(tmp_path):
    """Another tool's layout: no normals, properties in another order, an extra property,
    degree-1 SH, float64 positions."""
    n = 5
    rng = np.random.default_rng(7)
    fields = [("opacity", "<f4"), ("x", "<f8"), ("y", "<f8"), ("z", "<f8"), ("f_dc_0", "<f4"), ("f_dc_1", "<f4"), ("f_dc_2", "<f4")]
    fields += [(f"f_rest_{i}", "<f4") for i in range(9)]
    fields += [(f"scale_{i}", "<f4") for i in range(3)] + [(f"rot_{i}", "<f4") for i in range(4)] + [("semantic_id", "u1")]
    data = np.zeros(n, dtype=np.dtype(fields))
    for name, _ in fields:
        data[name] = rng.integers(0, 5, n) if name == "semantic_id" else rng.normal(size=n)
    kinds = {"<f4": "float", "<f8": "double", "u1": "uchar"}
    header = "ply\nformat binary_little_endian 1.0\ncomment written by another tool\nelement vertex 5\n"
    header += "".join(f"property {kinds[t]} {name}\n" for name, t in fields) + "end_header\n"
    path = tmp_path / "other.ply"
    path.write_bytes(header.encode() + data.tobytes())
    back = read_gaussians_ply(path)
    assert back["sh"].shape == (5, 4, 3)
    np.testing.assert_allclose(back["means"][:, 0], data["x"], rtol=1e-6)
    np.testing.assert_array_equal(back["opacity_logits"], data["opacity"])
    # channel-major f_rest: coefficient 1 of green is f_rest_3
    np.testing.assert_array_equal(back["sh"][:, 1, 1], data["f_rest_3"])
    g = Gaussians(*(torch.tensor(back[k]) for k in ("means", "log_scales", "quats", "opacity_logits", "sh")))
    assert render(g, ring_cameras(1), backend="torch").rgb.shape == (1, 48, 64, 3)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("means", np.nan, "non-finite means"),
        ("opacity_logits", np.inf, "non-finite opacity_logits"),
        ("log_scales", 40.0, "log-scales outside"),
        ("quats", 0.0, "a zero rotation"),
    ],
)
def test_a_broken_splat_is_refused_naming_file_and_field(tmp_path, field, value, message):
    from splat2sim.errors import InputError
    from splat2sim.io.gaussians_ply import validate_gaussians

    rng = np.random.default_rng(0)
    data = {"means": rng.normal(size=(10, 3)).astype(np.float32), "log_scales": np.full((10, 3), -4.0, np.float32),
            "quats": np.tile(np.float32([1, 0, 0, 0]), (10, 1)), "opacity_logits": np.zeros(10, np.float32),
            "sh": np.zeros((10, 1, 3), np.float32)}  # fmt: skip
    validate_gaussians(data, tmp_path / "good.ply")
    data[field][3] = value
    write_gaussians_ply(tmp_path / "bad.ply", data["means"], data["log_scales"], data["quats"], data["opacity_logits"], data["sh"])
    with pytest.raises(InputError, match=f"bad.ply: 1 of 10 Gaussians have {message}"):
        validate_gaussians(read_gaussians_ply(tmp_path / "bad.ply"), tmp_path / "bad.ply")


def test_importing_an_all_nan_splat_fails_the_stage_and_keeps_earlier_ones(tmp_path):
    """splat.import_ply with NaN values: an InputError and a failure record, frames and poses
    untouched, no splat/ folder (issue #17)."""
    from splat2sim import api
    from splat2sim.errors import InputError
    from splat2sim.synth import SynthConfig, generate_capture
    from splat2sim.synth.oracle import oracle_workspace
    from tests.conftest import tree_state

    cap = tmp_path / "cap"
    generate_capture(cap, SynthConfig(seed=3, width=160, height=120, duration_s=1.0, fps=10, object_kinds=["box"], texture_size=128))
    ws = oracle_workspace(cap, tmp_path / "ws", keyframes=6, until="poses")
    before = {s: tree_state(ws / s) for s in ("frames", "poses")}
    n = 20
    write_gaussians_ply(tmp_path / "nan.ply", np.full((n, 3), np.nan, np.float32), np.zeros((n, 3), np.float32),
                        np.tile(np.float32([1, 0, 0, 0]), (n, 1)), np.zeros(n, np.float32), np.zeros((n, 1, 3), np.float32))  # fmt: skip
    with pytest.raises(InputError, match=f"nan.ply: {n} of {n} Gaussians have non-finite means"):
        api.run_stage(ws, "splat", overrides=[f"splat.import_ply={tmp_path / 'nan.ply'}", "splat.import_frame=world"])
    assert not (ws / "splat").exists() and (ws / "logs" / "splat.failed.json").is_file()
    assert {s: tree_state(ws / s) for s in ("frames", "poses")} == before
