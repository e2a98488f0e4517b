"""`physics`: material, mass, inertia, friction and restitution per object, with ranges and sources."""
