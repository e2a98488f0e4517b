"""The Ray executor on a local Ray instance gives the same outputs as the local executor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from splat2sim.batch import collect_scans, run_batch
from splat2sim.batch.local import LocalExecutor
from tests.batch.conftest import OVERRIDES, UNTIL, output_hashes, scan_folder

ray = pytest.importorskip("ray")

GOOD = ("site_a", "site_b", "site_c")


@pytest.fixture(scope="module")
def ray_instance():
    # num_gpus=1 is a logical resource (no GPU is used): it lets a test split scans at a "GPU"
    # stage the way a cluster with GPUs splits them at the splat stage.
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, captures):
    root = tmp_path_factory.mktemp("batch_ray")
    scans_dir = scan_folder(root / "scans", captures)
    scans = collect_scans([scans_dir], overrides=OVERRIDES)
    # 2 workers x 1 thread, as the Ray tasks get on num_cpus=2 (thread counts are part of the config)
    result = run_batch(scans, root / "local", until=UNTIL, executor=LocalExecutor(workers=2, threads=1))
    assert result.data["executor"]["executor"] == "local"
    return scans, result


def _record(path):
    data = json.loads(path.read_text())
    return {k: data[k] for k in ("stage", "stage_version", "config", "inputs", "metrics", "warnings", "fallbacks", "backend", "status")}


def _assert_same(local, other):
    a = {s["name"]: s for s in local.data["scans"]}
    b = {s["name"]: s for s in other.data["scans"]}
    assert set(a) == set(b) == {*GOOD, "corrupt"}
    for name in GOOD:
        assert a[name]["status"] == b[name]["status"] == "done"
        assert a[name]["metrics"] == b[name]["metrics"] and a[name]["warnings"] == b[name]["warnings"]
        ws_a, ws_b = Path(a[name]["workspace"]), Path(b[name]["workspace"])
        hashes = output_hashes(ws_a)
        assert hashes and hashes == output_hashes(ws_b), name  # every file the stages wrote, byte for byte
        assert (ws_a / "config.yaml").read_text() == (ws_b / "config.yaml").read_text()
        for stage in ("frames", "poses"):
            assert _record(ws_a / stage / "_stage.json") == _record(ws_b / stage / "_stage.json")
        # the first stage has no upstream run id in its fingerprint: equal inputs, equal fingerprint
        fingerprint = lambda ws: json.loads((ws / "frames" / "_stage.json").read_text())["fingerprint"]  # noqa: E731
        assert fingerprint(ws_a) == fingerprint(ws_b)
    for scan in (a["corrupt"], b["corrupt"]):
        assert scan["status"] == "failed" and scan["failed_stage"] == "frames" and scan["error"]["class"] == "InputError"
    assert a["corrupt"]["error"]["message"] == b["corrupt"]["error"]["message"]


def test_ray_matches_local(ray_instance, local_run, tmp_path):
    from splat2sim.batch.ray_executor import RayExecutor

    scans, local = local_run
    result = run_batch(scans, tmp_path / "ray", until=UNTIL, executor=RayExecutor("auto"))
    ex = result.data["executor"]
    assert ex["executor"] == "ray" and ex["cluster"]["cpus"] == 2 and ex["threads_per_worker"] == local.data["executor"]["threads_per_worker"]
    assert result.data["state"] == "finished" and [s["name"] for s in result.failed] == ["corrupt"]
    _assert_same(local, result)
    assert ray.is_initialized()  # the caller's Ray instance is left running for the caller

    again = run_batch(scans, tmp_path / "ray", until=UNTIL, executor=RayExecutor("auto"))
    assert {s["name"]: s["status"] for s in again.data["scans"]} == {**{n: "skipped-fresh" for n in GOOD}, "corrupt": "failed"}


def test_ray_split_at_gpu_stage(ray_instance, local_run, tmp_path):
    """With GPUs in the cluster, scans are chained tasks split at the GPU stages."""
    from splat2sim.batch.ray_executor import RayExecutor

    scans, local = local_run
    result = run_batch(scans, tmp_path / "ray_gpu", until=UNTIL, executor=RayExecutor("auto", gpu_stages=("poses",)))
    assert result.data["executor"]["gpu_stages"] == ["poses"]
    for scan in result.data["scans"]:
        if scan["status"] == "done":
            assert {k: v["action"] for k, v in scan["stages"].items()} == {"frames": "ran", "poses": "ran"}
    _assert_same(local, result)
