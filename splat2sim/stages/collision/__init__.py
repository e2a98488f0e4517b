"""The collision stage: convex decompositions (CoACD) of the visual meshes."""
