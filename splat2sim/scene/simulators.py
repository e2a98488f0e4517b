"""Loading a Scene into a simulator in memory (``Scene.to_mujoco`` / ``Scene.to_pybullet``).

The scene package sits above ``splat2sim.sim``: the exporters here write the scene, and
the simulator adapters there compile, load and step what was written, without knowing
about Scene objects.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from splat2sim.scene.mjcf import mjcf_string
from splat2sim.scene.schema import SceneData
from splat2sim.scene.urdf import write_urdf
from splat2sim.sim.mujoco_sim import mujoco_module
from splat2sim.sim.pybullet_sim import load_urdf_dir, pybullet_module


def load_scene_model(scene: SceneData):
    """(MjModel, MjData) of a Scene, compiled in memory from one self-contained MJCF."""
    mujoco = mujoco_module()
    model = mujoco.MjModel.from_xml_string(mjcf_string(scene))
    return model, mujoco.MjData(model)


def load_scene_into(scene: SceneData, client: int | None = None) -> dict[str, int]:
    """Write the scene's URDFs into a temporary folder and load them (``client`` or a new
    DIRECT client). Returns {body name: pybullet body id} (plus "_environment")."""
    p = pybullet_module()
    if client is None:
        client = p.connect(p.DIRECT)
    folder = Path(tempfile.mkdtemp(prefix="splat2sim_urdf_"))
    write_urdf(scene, folder)
    return load_urdf_dir(folder, client)
