"""`splat`: train a Gaussian splat on the posed keyframes (or import one)."""
