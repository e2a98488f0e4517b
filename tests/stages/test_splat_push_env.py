"""examples/splat_push_env.py at a tiny size on an exported workspace of the bundled example
(oracle splat and ground-truth stages): the Gymnasium-style API's shapes, and the scripted
push's mp4 (splat | MuJoCo side by side) with the pushed object moved."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")

from tests.stages.export_fixtures import gt_workspace  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "splat_push_env.py"


def _example():
    spec = importlib.util.spec_from_file_location("splat_push_env", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_scripted_push_moves_the_object_and_writes_the_video(tmp_path_factory, tmp_path):
    from splat2sim.synth.video import read_frames

    example = _example()
    ws = gt_workspace(tmp_path_factory, "push_env", until="export")
    env = example.SplatPushEnv(ws, camera="keyframe_003", width=64, height=48, max_steps=3)
    try:
        obs, info = env.reset(seed=1)
        assert obs["rgb"].shape == (48, 64, 3) and obs["rgb"].dtype == np.uint8
        assert obs["depth"].shape == (48, 64) and obs["object_ids"].shape == (48, 64)
        assert env.render().shape == (48, 64, 3)
        truncated = False
        for _ in range(3):
            obs, reward, terminated, truncated, info = env.step(env.scripted_action())
            assert isinstance(reward, float) and not terminated
        assert truncated  # max_steps
    finally:
        env.close()
    out = tmp_path / "push.mp4"
    # 16 steps of 0.05 s at 0.1 m/s: the pusher (2 cm behind the object) drives 8 cm
    summary = example.run_episode(ws, out, width=64, height=48, steps=16, camera="keyframe_003")
    frames = read_frames(out)
    assert len(frames) == summary["frames"] == 17 and frames[0].shape == (48, 128, 3)
    assert summary["moved_m"] > 0.01 and summary["progress_m"] > 0.01, summary  # measured: 3.9 cm, 3.9 cm along the push
    assert np.abs(frames[-1][:, :64].astype(float) - frames[0][:, :64]).max() > 50  # the splat view shows it
