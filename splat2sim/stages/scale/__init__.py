"""The scale stage: the world's metric scale, decided once (see splat2sim.artifacts.scale)."""
