"""The artifact layer: versions checked on read, the declared upstream list enforced, the
docs table made from the declarations, and the one converter into the metric frame."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from splat2sim.artifacts import ALL, ArtifactError, poses, scale, segment
from splat2sim.artifacts.docs import DOC, replace_table
from splat2sim.errors import UndeclaredUpstreamError
from splat2sim.stages import STAGES
from splat2sim.stages.base import StageContext
from splat2sim.workspace import Workspace

CAMERAS = {"intrinsics": {"fx": 100.0, "fy": 100.0, "cx": 50.0, "cy": 40.0, "width": 100, "height": 80},
           "frames": [{"file": "images/a.jpg", "registered": True, "camera": 0,
                       "world_from_camera": [[1, 0, 0, 0.5], [0, 1, 0, -0.2], [0, 0, 1, 1.0], [0, 0, 0, 1]]},
                      {"file": "images/b.jpg", "registered": False, "camera": 0, "world_from_camera": None}]}  # fmt: skip


def test_write_stamps_the_version_and_read_round_trips_unknown_keys(tmp_path):
    poses.CAMERAS.write(tmp_path, {**CAMERAS, "something_new": [1, 2]})
    data = json.loads((tmp_path / "cameras.json").read_text())
    assert data["schema_version"] == poses.CAMERAS.version
    doc = poses.CAMERAS.read(tmp_path)
    assert doc.intrinsics["fx"] == 100.0 and len(doc.registered()) == 1 and doc.extra["something_new"] == [1, 2]
    poses.CAMERAS.write(tmp_path / "again", doc)
    # every key kept; optional fields absent from the file are written with their defaults
    assert json.loads((tmp_path / "again" / "cameras.json").read_text()) == {**data, "cameras": [], "units": "metres"}


def test_an_unknown_schema_version_is_refused_with_the_stage_to_rerun(tmp_path):
    (tmp_path / "cameras.json").write_text(json.dumps({**CAMERAS, "schema_version": 99}))
    with pytest.raises(ArtifactError) as info:
        poses.CAMERAS.read(tmp_path)
    assert "poses/cameras.json has schema_version 99" in info.value.message
    assert "--force poses" in info.value.hint
    (tmp_path / "cameras.json").write_text(json.dumps(CAMERAS))  # no version at all (a hand-made file)
    with pytest.raises(ArtifactError, match="schema_version None"):
        poses.CAMERAS.read(tmp_path)


def test_missing_files_and_fields_name_the_stage(tmp_path):
    with pytest.raises(ArtifactError, match="segment/objects.json is missing") as info:
        segment.OBJECTS.read(tmp_path)
    assert "--force segment" in info.value.hint
    (tmp_path / "objects.json").write_text(json.dumps({"schema_version": 1, "method": "geometric"}))
    with pytest.raises(ArtifactError, match="lacks the field"):
        segment.OBJECTS.read(tmp_path)
    (tmp_path / "objects.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="unreadable"):
        segment.OBJECTS.read(tmp_path)


def _context(tmp_path: Path, stage: str) -> StageContext:
    spec = STAGES[stage]
    return StageContext(stage=stage, workspace=Workspace(tmp_path), config=spec.config_cls(), run_config=None, out_dir=tmp_path / "out",
                        upstream=spec.upstream, caches=spec.caches)  # fmt: skip


def test_a_stage_reading_an_undeclared_upstream_fails(tmp_path):
    ctx = _context(tmp_path, "collision")  # declares only mesh
    ctx.upstream_dir("mesh")
    with pytest.raises(UndeclaredUpstreamError, match="'collision' read 'frames/'.*declared upstream list \\(mesh\\)"):
        ctx.upstream_dir("frames")
    with pytest.raises(UndeclaredUpstreamError, match="read 'poses/'"):
        ctx.read(poses.CAMERAS)
    with pytest.raises(UndeclaredUpstreamError, match="no declared cache 'vlm'"):
        ctx.cache_dir("vlm")
    assert _context(tmp_path, "physics").cache_dir("vlm") == tmp_path / ".cache" / "physics" / "vlm"


def test_every_stage_reads_only_what_it_declares():
    """Each stage module names the artifacts it reads; every one is from a declared upstream
    stage (a static check of the ``ctx.read(...)`` calls and ``upstream_dir("...")`` literals)."""
    import re

    root = Path(__file__).resolve().parents[2] / "splat2sim" / "stages"
    for name, spec in STAGES.items():
        text = "\n".join(p.read_text() for p in (root / name).glob("*.py"))
        used = set(re.findall(r'upstream_dir\("(\w+)"\)', text))
        used |= {m for m in re.findall(r"ctx\.read\((?:\w+_artifacts|(\w+))\.", text) if m}
        used |= {m for m in re.findall(r"from splat2sim\.artifacts import (\w+) as \w+_artifacts", text)} - {name}
        if "metric_frame()" in text:
            used.add("scale")
        missing = used - set(spec.upstream) - {name}
        assert not missing, f"stage '{name}' reads {sorted(missing)} without declaring them (upstream: {spec.upstream})"


def test_artifacts_doc_table_is_made_from_the_declarations():
    text = DOC.read_text()
    assert replace_table(text) == text, "docs/ARTIFACTS.md is out of date: run `python -m splat2sim.artifacts.docs --write`"
    for a in ALL:
        assert f"`{a.file}`" in text


def test_metric_frame_is_one_uniform_scale(tmp_path):
    frame = scale.MetricFrame(2.0)
    cams = frame.cameras(poses.Cameras.from_dict(CAMERAS))
    T = np.asarray(cams.frames[0]["world_from_camera"])
    np.testing.assert_allclose(T[:3, 3], [1.0, -0.4, 2.0]) and np.testing.assert_allclose(T[:3, :3], np.eye(3))
    assert cams.units == "metres" and cams.frames[1]["world_from_camera"] is None
    assert CAMERAS["frames"][0]["world_from_camera"][0][3] == 0.5  # the input is not modified
    means, log_scales = frame.gaussians(np.ones((2, 3)), np.zeros((2, 3)))
    np.testing.assert_allclose(means, 2.0) and np.testing.assert_allclose(log_scales, math.log(2.0))
    objs = frame.objects({"objects": [{"id": "obj_000", "centroid": [1, 2, 3], "bbox_min": [0, 0, 0], "bbox_max": [1, 1, 1]}],
                          "support_plane": {"offset": 0.0, "height_margin": 0.01}})  # fmt: skip
    assert objs["objects"][0]["bbox_max"] == [2.0, 2.0, 2.0] and objs["support_plane"]["height_margin"] == 0.02
    scale.SCALE.write(tmp_path, scale.Scale(scale=-1.0, source="user", poses_metric=False))
    with pytest.raises(Exception, match="not positive"):
        scale.MetricFrame.from_doc(scale.SCALE.read(tmp_path))


def test_segment_confidence_ranks_the_doubts():
    """Each doubt lowers the confidence and says why; none leaves it at 1."""
    from splat2sim.stages.segment.confidence import LOW, object_confidence

    views = np.full(500, 30)
    assert object_confidence(500, views, 40, "table", False) == (1.0, [])
    merged, why = object_confidence(500, views, 40, "table", True)
    floating, why_floating = object_confidence(500, views, 40, "none", False)
    assert LOW <= merged < 1.0 and "several" in why[0]
    assert floating < LOW and "rests on nothing" in why_floating[0]
    weak, reasons = object_confidence(60, np.full(60, 4), 40, "table", False)
    assert weak < merged and len(reasons) == 2 and "60 Gaussians" in reasons[0] and "4 of 40" in reasons[1]
