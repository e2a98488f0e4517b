"""The mesh stage: per-object watertight visual meshes and a background mesh from the splat."""
