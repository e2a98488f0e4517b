"""Synthetic captures with objects from mesh files (YCB scans in ../shared/data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from splat2sim.errors import InputError
from splat2sim.synth import SynthConfig, generate_capture
from splat2sim.synth.meshes import read_obj

YCB = Path("/work/shared/data/ycb")

pytestmark = pytest.mark.data


def test_missing_mesh_file_is_reported(tmp_path):
    cfg = SynthConfig(num_objects=0, mesh_files=[(str(tmp_path / "nope.obj"), 0.2, "nope")], duration_s=0.1)
    with pytest.raises(InputError) as err:
        generate_capture(tmp_path / "out", cfg)
    assert "nope.obj" in str(err.value)


@pytest.mark.skipif(not (YCB / "masses.json").is_file(), reason="YCB meshes not present in /work/shared/data/ycb")
def test_ycb_meshes_rest_on_the_table_with_given_masses(tmp_path):
    masses = json.loads((YCB / "masses.json").read_text())
    names = ["mug", "tomato_soup_can"]
    files = [(str(YCB / n / "textured.obj"), masses[n], n) for n in names]
    cfg = SynthConfig(seed=2, num_objects=0, mesh_files=files, width=160, height=120, duration_s=0.2, texture_size=256, marker=False)
    result = generate_capture(tmp_path, cfg)
    gt = json.loads(result.ground_truth.read_text())
    assert [o["name"] for o in gt["objects"]] == names
    for o in gt["objects"]:
        assert o["mass"] == masses[o["name"]]
        assert o["kind"] == "mesh_file" and o["volume"] > 0
        mesh, _ = read_obj(result.out_dir / o["mesh_file"])
        T = np.array(o["world_from_object"])
        z = (mesh.vertices @ T[:3, :3].T + T[:3, 3])[:, 2]
        assert -0.004 < z.min() < 0.004, o["name"]
        assert (result.out_dir / o["texture_file"]).is_file()
