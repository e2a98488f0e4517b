"""Triangle meshes built with numpy: lathe (revolved closed profiles), boxes, swept tubes;
mass properties; OBJ reading and writing; the procedural objects.

Positions are welded (one vertex per point in space) so that every mesh built here is
closed by index, i.e. watertight; texture coordinates are indexed separately per face
corner (OBJ's ``f v/vt``), so UV seams do not split the surface.

One module per concern, all importable from here: ``mesh_core`` (``Mesh`` and its
measurements), ``mesh_builders`` (shapes), ``obj_files`` (OBJ / MTL), ``procedural``
(objects by kind).
"""

from splat2sim.synth.mesh_builders import box, lathe, slab, swept_tube
from splat2sim.synth.mesh_core import Mesh, concatenate, convex_hull, is_closed, mass_properties, outward, signed_volume
from splat2sim.synth.obj_files import read_obj, write_obj
from splat2sim.synth.procedural import BUILDERS, make_ball, make_bottle, make_bowl, make_box, make_can, make_mug, make_object

__all__ = [
    "Mesh",
    "concatenate",
    "convex_hull",
    "is_closed",
    "mass_properties",
    "outward",
    "signed_volume",
    "box",
    "lathe",
    "slab",
    "swept_tube",
    "read_obj",
    "write_obj",
    "BUILDERS",
    "make_object",
    "make_ball",
    "make_bottle",
    "make_bowl",
    "make_box",
    "make_can",
    "make_mug",
]
