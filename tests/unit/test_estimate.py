"""Stage-time estimates: work counted from the workspace and config, the reference rate
before a machine's first run, this machine's rate after it, and the note before a long stage."""

from __future__ import annotations

import json

import pytest

from splat2sim import estimate as E
from splat2sim.artifacts.frames import FRAMES
from splat2sim.artifacts.segment import OBJECTS
from splat2sim.config import Config


@pytest.fixture
def rates(tmp_path, monkeypatch):
    path = tmp_path / "rates" / "stage_rates.json"
    monkeypatch.setenv("SPLAT2SIM_STAGE_RATES", str(path))
    monkeypatch.setattr(E, "contention", lambda: 1.0)  # an idle machine, whatever runs beside the tests
    return path


@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    (root / "frames").mkdir(parents=True)
    frames = {"source": {}, "image_size": {"width": 640, "height": 480}, "frames": [{"file": f"images/{i}.jpg"} for i in range(40)]}
    FRAMES.write(root / "frames", frames)
    return root


class Notes:
    def __init__(self):
        self.lines = []

    def note(self, stage, message):
        self.lines.append((stage, message))


def test_work_and_reference_rate(ws, rates):
    config = Config.defaults().apply({"splat": {"iterations": 1000, "train_max_side": 320, "max_gaussians": 30000}}, origin="test")
    est = E.estimate(ws, "splat", config)
    # 1000 iterations x 320x240 px (0.0768 Mpx) x 3 (30k Gaussians / 10k) = 230.4 units
    assert est.work.units == pytest.approx(230.4) and est.seconds == pytest.approx(230.4 * E.REFERENCE_RATES["splat"])
    assert est.source == "reference 2-core CPU" and "1000 iterations at 320 px, up to 30k Gaussians" in est.message()
    assert E.estimate(ws, "poses", config).work.units == pytest.approx(40 * 0.3072)  # keyframes x megapixels
    assert E.estimate(ws, "mesh", config) is None  # segment has not run: nothing to count
    assert E.estimate(ws, "export", config) is None  # a short stage


def test_learning_this_machines_rate(ws, rates):
    config = Config.defaults()
    est = E.estimate(ws, "poses", config)
    E.learn(est, 20.0)  # 40 keyframes in 20 s
    again = E.estimate(ws, "poses", config)
    assert again.seconds == pytest.approx(20.0) and again.source == "this machine's 1 earlier run"
    E.learn(again, 40.0)  # the next run took twice as long: half of each run
    assert E.estimate(ws, "poses", config).seconds == pytest.approx(30.0)
    assert json.loads(rates.read_text())["poses"]["runs"] == 2


def test_announce_only_long_stages(ws, rates):
    notes = Notes()
    E.announce(ws, "poses", Config.defaults(), notes)  # 40 keyframes x 0.3 Mpx x 2.6 s: announced
    assert notes.lines == [("poses", "estimate: about 30 s (40 keyframes at 640x480; rate from reference 2-core CPU)")]
    E.learn(E.estimate(ws, "poses", Config.defaults()), 2.0)
    E.announce(ws, "poses", Config.defaults(), notes)  # now 2 s: not worth a line
    assert len(notes.lines) == 1


def test_an_unwritable_rates_file_does_not_fail_a_build(ws, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("SPLAT2SIM_STAGE_RATES", str(blocker / "stage_rates.json"))
    monkeypatch.setattr(E, "contention", lambda: 1.0)
    est = E.estimate(ws, "poses", Config.defaults())
    E.learn(est, 10.0)
    assert E.estimate(ws, "poses", Config.defaults()).source == "reference 2-core CPU"


def test_collision_is_an_upper_bound_and_not_learned(ws, rates):
    (ws / "segment").mkdir()
    OBJECTS.write(ws / "segment", {"objects": [{"id": "obj_000"}, {"id": "obj_001"}]})
    est = E.estimate(ws, "collision", Config.defaults())
    assert est.seconds == pytest.approx(2 * E.REFERENCE_RATES["collision"]) and est.message().startswith("up to about 40 s (2 objects if each")
    E.learn(est, 0.1)  # both were near-convex: says nothing about the next scene's mugs
    assert not rates.exists()


def test_a_busy_machine_scales_the_estimate_and_the_learned_rate(ws, rates, monkeypatch):
    est = E.estimate(ws, "poses", Config.defaults())
    monkeypatch.setattr(E, "contention", lambda: 2.0)  # two runnable processes per core
    E.learn(est, 40.0)  # 40 s at twice the load: 20 s of an idle machine's time
    busy = E.estimate(ws, "poses", Config.defaults())
    assert busy.seconds == pytest.approx(40.0) and busy.source.endswith("x2.0 for the machine's load")
    monkeypatch.setattr(E, "contention", lambda: 1.0)
    assert E.estimate(ws, "poses", Config.defaults()).seconds == pytest.approx(20.0)


def test_an_artifact_of_another_version_gives_no_estimate(ws, rates):
    doc = json.loads((ws / "frames" / "frames.json").read_text())
    (ws / "frames" / "frames.json").write_text(json.dumps({**doc, "schema_version": 99}))
    assert E.estimate(ws, "poses", Config.defaults()) is None  # the stage itself says what is wrong


def test_format_duration():
    assert [E.format_duration(s) for s in (3, 42, 89, 150, 4000)] == ["5 s", "40 s", "90 s", "2 min", "1.1 h"]
