"""Inputs of a batch: files, folders, CSV and YAML manifests, and their error messages;
worker sizing; the headline numbers of batch.json. No stage runs here."""

from __future__ import annotations

from pathlib import Path

import pytest

from splat2sim.batch import collect_scans, plan_workers
from splat2sim.batch.manifest import derive_name
from splat2sim.batch.ray_executor import merge_results, segments
from splat2sim.batch.summary import headline, quality_text
from splat2sim.errors import ConfigError, InputError


def _video(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00" * 16)  # content does not matter until a stage runs
    return path


def _photos(folder: Path, n: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"IMG_{i:04d}.jpg").write_bytes(b"\xff\xd8")
    return folder


def test_files_and_folders(tmp_path):
    a = _video(tmp_path / "in" / "Kitchen Scan.mp4")
    _video(tmp_path / "in" / "garage.MOV")
    _photos(tmp_path / "in" / "porch")  # a photo scan
    _video(tmp_path / "in" / "site_07" / "video.mp4")  # one video in a sub-folder: named after it
    _video(tmp_path / "in" / "multi" / "x.mp4")
    _video(tmp_path / "in" / "multi" / "y.mp4")
    (tmp_path / "in" / "notes.txt").write_text("ignored")
    photos = _photos(tmp_path / "photos")
    scans = collect_scans([tmp_path / "in", photos, a], overrides=["frames.target_count=30"])
    names = [s.name for s in scans]
    assert names == ["Kitchen_Scan", "garage", "multi_x", "multi_y", "porch", "site_07", "photos", "Kitchen_Scan_2"]
    assert all(s.input.is_absolute() and s.overrides == ["frames.target_count=30"] for s in scans)
    assert scans[5].input == tmp_path / "in" / "site_07" / "video.mp4"
    assert scans[6].input == photos


def test_folder_without_scans_and_missing_input(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no scans"):
        collect_scans([tmp_path / "empty"])
    with pytest.raises(InputError, match="argument 1 .*does not exist"):
        collect_scans([tmp_path / "nope.mp4"])


def test_csv_manifest(tmp_path):
    _video(tmp_path / "scans" / "a.mp4")
    _photos(tmp_path / "scans" / "b")
    manifest = tmp_path / "scans" / "batch.csv"
    manifest.write_text(
        "input,name,marker_size,known_length,set,splat.iterations\n"
        "a.mp4,alpha,0.08,,frames.target_count=20;poses.max_features=2048,\n"
        ",,,,,\n"
        'b,,,1.5,"poses.known_length_cameras=frame_000000,frame_000007",500\n'
    )
    scans = collect_scans([manifest], preset="cpu", overrides=["frames.max_side=320"])
    assert [s.name for s in scans] == ["alpha", "b"]
    assert scans[0].input == tmp_path / "scans" / "a.mp4" and scans[1].input == tmp_path / "scans" / "b"
    assert scans[0].overrides == ["frames.max_side=320", "frames.target_count=20", "poses.max_features=2048", "poses.marker_size=0.08"]
    assert scans[1].overrides == ["frames.max_side=320", "splat.iterations=500"]
    assert scans[1].values == {"poses": {"known_length": 1.5, "known_length_cameras": "frame_000000,frame_000007"}}
    assert scans[0].preset == "cpu" and scans[0].origin == "batch.csv line 2"


@pytest.mark.parametrize(
    "text, error, message",
    [
        ("name\nx\n", ConfigError, "no 'input' column"),
        ("input,marker_size\na.mp4,eight\n", ConfigError, "batch.csv line 2, field 'marker_size': expected a length in metres"),
        ("input,marker_size\na.mp4,-1\n", ConfigError, "line 2, field 'marker_size': expected a positive length"),
        ("input\na.mp4\nmissing.mp4\n", InputError, "batch.csv line 3, field 'input': .*missing.mp4 does not exist"),
        ("input,colour\na.mp4,red\n", ConfigError, "line 2: unknown field 'colour'"),
        ("input,set\na.mp4,frames.target_count\n", ConfigError, "field 'set': 'frames.target_count' is not section.key=value"),
        ("input,set\na.mp4,frames.targt_count=3\n", ConfigError, "batch.csv line 2: .*did you mean|unknown key 'frames.targt_count'"),
        ("input,frames.target_count\na.mp4,many\n", ConfigError, "batch.csv line 2: .*frames.target_count must be a whole number"),
        ("input,name\na.mp4,x\na.mp4,x\n", ConfigError, "batch.csv line 3: name 'x' is already used by batch.csv line 2"),
        ("input,name\na.mp4,../up\n", ConfigError, "field 'name': '../up' cannot be a folder name"),
        ("input,preset\na.mp4,fast\n", ConfigError, "line 2: unknown preset 'fast'"),
        ("input,known_length\na.mp4,0.5\n", ConfigError, "line 2: .*known_length needs exactly one of known_length_cameras"),
        ("input\n", ConfigError, "lists no scans"),
    ],
)
def test_csv_manifest_errors_name_row_and_field(tmp_path, text, error, message):
    _video(tmp_path / "a.mp4")
    manifest = tmp_path / "batch.csv"
    manifest.write_text(text)
    with pytest.raises(error, match=message) as info:
        collect_scans([manifest])
    assert info.value.hint or error is InputError


def test_yaml_manifest(tmp_path):
    _video(tmp_path / "a.mp4")
    _video(tmp_path / "b.mp4")
    (tmp_path / "fast.yaml").write_text("splat:\n  iterations: 100\n")
    manifest = tmp_path / "scans.yaml"
    manifest.write_text(
        "defaults:\n"
        "  marker_size: 0.08\n"
        "  set: {frames.target_count: 12}\n"
        "scans:\n"
        "  - input: a.mp4\n"
        "    name: kitchen\n"
        "    known_length: 0.5\n"
        "    config: fast.yaml\n"
        '    set: ["poses.known_length_cameras=frame_000000,frame_000005"]\n'
        "  - b.mp4\n"
    )
    scans = collect_scans([manifest])
    assert [s.name for s in scans] == ["kitchen", "b"]
    assert scans[0].overrides == ["frames.target_count=12", "poses.marker_size=0.08"]
    assert scans[0].values == {"poses": {"known_length": 0.5, "known_length_cameras": "frame_000000,frame_000005"}}
    assert scans[0].config_files == [tmp_path / "fast.yaml"]
    assert scans[1].overrides == ["frames.target_count=12", "poses.marker_size=0.08"] and scans[1].config_files == []


@pytest.mark.parametrize(
    "text, message",
    [
        ("scans: [unclosed\n", "not valid YAML"),
        ("- input: a.mp4\n- input: a.mp4\n  marker_size: big\n", r"scans.yaml scan 2 \(line 2\), field 'marker_size'"),
        ("- input: a.mp4\n  markersize: 0.08\n", "unknown field 'markersize'.*\n?.*|did you mean 'marker_size'"),
        ("defaults:\n  input: a.mp4\nscans: [a.mp4]\n", "defaults, field 'input': is per scan"),
        ("scan: [a.mp4]\n", "unknown top-level key"),
        ("- 3\n", "expected a mapping with 'input'"),
    ],
)
def test_yaml_manifest_errors(tmp_path, text, message):
    _video(tmp_path / "a.mp4")
    manifest = tmp_path / "scans.yaml"
    manifest.write_text(text)
    with pytest.raises(ConfigError, match=message):
        collect_scans([manifest])


def test_unknown_key_suggests(tmp_path):
    _video(tmp_path / "a.mp4")
    (tmp_path / "m.yaml").write_text("- input: a.mp4\n  markersize: 0.08\n")
    with pytest.raises(ConfigError) as info:
        collect_scans([tmp_path / "m.yaml"])
    assert "did you mean 'marker_size'" in info.value.hint


def test_derive_name():
    assert derive_name("Kitchen Scan (2).mp4") == "Kitchen_Scan_2_.mp4"
    assert derive_name("...") == "scan"


@pytest.mark.parametrize(
    "pending, kwargs, workers, threads",
    [
        (10, {"cores": 2, "memory_gb": 64}, 2, 1),  # two heavy stages at once use 2 cores, not 4
        (1, {"cores": 2, "memory_gb": 64}, 1, 2),  # a single scan gets every core
        (10, {"cores": 16, "memory_gb": 8}, 2, 8),  # memory-bound
        (10, {"cores": 16, "memory_gb": None}, 10, 1),  # no more workers than scans
        (10, {"cores": 4, "memory_gb": 64, "workers": 3}, 3, 1),
        (3, {"cores": 8, "memory_gb": 64}, 3, 2),
    ],
)
def test_plan_workers(pending, kwargs, workers, threads):
    plan = plan_workers(pending, **kwargs)
    assert (plan.workers, plan.threads) == (workers, threads), plan
    assert plan.workers * plan.threads <= max(plan.cores, plan.workers)


def test_ray_segments_split_at_gpu_stages():
    stages = ["frames", "poses", "splat", "segment", "mesh"]
    assert segments(stages, use_gpu=False) == [("mesh", False)]
    assert segments(stages, use_gpu=True) == [("poses", False), ("splat", True), ("mesh", False)]
    assert segments(["frames", "poses"], use_gpu=True) == [("poses", False)]
    first = {"status": "done", "stages": {"frames": {"action": "ran", "seconds": 1.0}}, "seconds": 2.0}
    second = {
        "status": "done",
        "stages": {"frames": {"action": "skipped", "seconds": 0.0}, "poses": {"action": "ran", "seconds": 3.0}},
        "seconds": 4.0,
    }
    merged = merge_results(first, second)
    assert merged["stages"] == {"frames": {"action": "ran", "seconds": 1.0}, "poses": {"action": "ran", "seconds": 3.0}}
    assert merged["seconds"] == 6.0


def test_headline_from_records():
    from splat2sim.workspace.record import StageRecord

    def rec(stage, **metrics):
        return StageRecord(stage=stage, stage_version=1, fingerprint="f", output_id="o", config={}, metrics=metrics)

    records = {
        "frames": rec("frames", keyframes=40),
        "poses": rec("poses", registered=38, registered_fraction=0.95, scale_source="marker"),
        "splat": rec("splat", psnr_held_out=27.25, gaussians=30000),
        "segment": rec("segment", objects=3),
        "check": rec("check", all_settled=True, repairs=1),
    }
    numbers = headline(records)
    assert numbers["psnr_held_out"] == 27.25 and numbers["objects"] == 3 and numbers["check_passed"] is True
    assert quality_text(numbers) == "38/40 posed, scale: marker, PSNR 27.2 dB, 3 objects, check pass"
