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
    scale = json.loads((ws / "scale" / "scale.json").read_text())
    assert "<h2>Metric scale</h2>" in page and f"<code>{scale['source']}</code>" in page
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


def test_report_shows_each_scale_cue_and_its_weight():
    """Without a marker the scale is a fusion of weak cues: the report lists each with its
    estimate, spread and weight, and the cues that could not be used, with why."""
    from splat2sim.artifacts.scale import Scale
    from splat2sim.stages.report.run import _scale_section

    doc = Scale(scale=0.12, source="prior:sizes+camera_distance", poses_metric=False, range=[0.08, 0.18], log_sigma=0.2,
                cues={"sizes": {"scale": 0.14, "log_sigma": 0.3, "objects": 3, "weight": 0.4},
                      "camera_distance": {"scale": 0.11, "log_sigma": 0.35, "distance_units": 6.1, "prior_m": 0.7, "weight": 0.6},
                      "skipped": {"focus": "the <views> look in nearly one direction"}, "disagreement": {"chi2_per_dof": 0.4}},
                note="poses found no metric scale")  # fmt: skip

    class Ctx:  # what _scale_section reads: the scale artifact
        def read(self, artifact):
            return doc

    section = _scale_section(Ctx())
    assert "0.12 metres per world unit (about 95 %: 0.08 - 0.18)" in section
    assert "<td>sizes</td><td>0.14</td><td>x/&divide; 1.82</td><td>40%</td><td>3 object sizes against their label priors</td>" in section
    assert "the phone 6.1 units from the scene it framed, against a typical 0.7 m" in section and "<td>60%</td>" in section
    assert "focus not used: the &lt;views&gt; look" in section  # escaped
    assert "disagreement" not in section  # not a cue


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
