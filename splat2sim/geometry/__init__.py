"""Geometry helpers shared by the mesh, collision, physics and export stages (numpy core)."""
