"""splat2sim: a phone video of a real scene in, simulator scenes a robot can touch out.

Importing the package is cheap; heavy modules (torch, open3d, mujoco, ...) are imported
by the stages that use them.
"""

__version__ = "0.1.0"
