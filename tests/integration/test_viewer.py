"""`splat2sim view`: the viser viewer of a small (ground-truth) workspace names every object
in its scene tree, renders a non-blank page in headless Chromium, settles the scene in
MuJoCo, and the command stops cleanly on Ctrl-C (SIGINT)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

pytest.importorskip("viser", reason="viser is not installed (`make install` installs it; or pip install splat2sim[viewer])")

from tests.stages.export_fixtures import gt_workspace  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return gt_workspace(tmp_path_factory, "viewer_gt", until="export")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 10.0) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status


@pytest.fixture(scope="module")
def viewer(ws):
    from splat2sim.viewer import open_viewer

    v = open_viewer(ws, port=_free_port())
    yield v
    v.stop()


def test_viewer_scene_tree_names_every_object_and_settles(ws, viewer):
    from splat2sim.scene import load

    scene = load(ws)
    names = set(viewer.node_names())
    assert "/splat" in names
    for b in scene.bodies:
        assert {f"/objects/{b.name}", f"/objects/{b.name}/mesh", f"/objects/{b.name}/label"} <= names, b.name
        assert sum(n.startswith(f"/objects/{b.name}/hulls/") for n in names) == len(b.collision)
    assert any(n.startswith("/cameras/") for n in names)
    assert _get(viewer.url) == 200
    # the settle button's work: 0.5 s of MuJoCo; the exported scene rests (the check stage's
    # 2 mm drift tolerance, checks.drift_mm)
    final = viewer.simulate(seconds=0.5)
    for b in scene.bodies:
        assert np.linalg.norm(np.asarray(final[b.name]) - b.position) < 2e-3, b.name


# ~15 s: chromium renders WebGL in software (swiftshader)
def test_viewer_page_renders_in_headless_chromium(viewer, tmp_path):
    if CHROMIUM is None:
        pytest.skip("no chromium on this machine: the page was not rendered (the scene tree is checked by the test above)")
    shot = tmp_path / "view.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader",
           "--window-size=640,480", "--virtual-time-budget=5000", f"--screenshot={shot}", viewer.url]  # fmt: skip
    subprocess.run(cmd, capture_output=True, timeout=120)
    assert shot.is_file(), "chromium wrote no screenshot"
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3)
    colours, counts = np.unique(img, axis=0, return_counts=True)
    # not blank: the commonest colour covers under 90 % of the page and there are many colours
    assert counts.max() / len(img) < 0.9 and len(colours) > 200, (counts.max() / len(img), len(colours))


def test_view_command_prints_url_and_stops_on_sigint(ws):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "splat2sim", "view", str(ws), "--port", str(port), "--no-splat"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        url, lines, t0 = None, [], time.time()
        while url is None and time.time() - t0 < 90:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            lines.append(line)
            m = re.search(r"splat2sim viewer of .*: (http://\S+)", line)
            url = m.group(1) if m else None
        assert url, "".join(lines)
        assert _get(url) == 200
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, out
        assert "viewer stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
