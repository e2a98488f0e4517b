"""splat2sim: a phone video of a real scene in, simulator scenes a robot can touch out.

Importing the package is cheap; heavy modules (torch, open3d, mujoco, ...) are imported
by the stages that use them.
"""

__version__ = "0.1.0"


def load(workspace_or_scene):
    """The exported scene of a workspace (or a scene.json path), ready for simulators:
    ``splat2sim.load("ws/").to_mujoco()``. See ``splat2sim.scene``."""
    from splat2sim.scene import load as _load

    return _load(workspace_or_scene)
