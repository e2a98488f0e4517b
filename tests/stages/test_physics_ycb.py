"""Shell-aware mass beats a solid block for the real YCB mug and bowl (scanned meshes in
../shared/data/ycb with known masses), for the scan itself and for its filled hull."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

YCB = Path(__file__).resolve().parents[3] / "shared" / "data" / "ycb"
pytestmark = [pytest.mark.data, pytest.mark.skipif(not (YCB / "masses.json").is_file(), reason="YCB meshes not present")]


@pytest.mark.parametrize("name", ["mug", "bowl"])
def test_shell_aware_beats_solid_block(name):
    import trimesh

    from splat2sim.geometry.inertia import check_inertia
    from splat2sim.stages.physics import priors as P
    from splat2sim.stages.physics import reconcile as R
    from splat2sim.stages.physics.run import prior_estimate

    truth = json.loads((YCB / "masses.json").read_text())[name]
    mesh = trimesh.load(YCB / name / "textured.obj", process=False, force="mesh")
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    for m in (mesh, mesh.convex_hull):
        g = R.geometry_from_mesh(m.vertices, m.faces, watertight=bool(m.is_watertight))
        est = prior_estimate(name)
        assert est.fill == "shell"
        rec = R.reconcile_mass(g, est.fill, est.density, est.thickness, None)
        assert rec.material.mode == "shell"
        block = P.material_properties(est.material)["density"]["value"] * g.volume
        assert abs(math.log(rec.mass["value"] / truth)) < abs(math.log(block / truth))
        com, inertia, method, _ = R.inertial(g, rec.material.mode, rec.mass["value"], est.thickness["value"])
        assert method == "mesh_shell" and not check_inertia(inertia, rec.mass["value"])
