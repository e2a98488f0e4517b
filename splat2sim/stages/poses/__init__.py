"""The poses stage: camera poses, gravity, origin and metric scale (see run.py)."""
