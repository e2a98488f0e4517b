"""TSDF fusion of rendered depth maps with open3d's ScalableTSDFVolume."""

from __future__ import annotations

import os

import numpy as np


def limit_threads() -> None:
    """open3d's OpenMP integration is many times slower when it oversubscribes a small
    machine (see ENVIRONMENT.md); a value the user set is kept."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")


class Fusion:
    """Integrate depth maps (camera z, 0 = no measurement) with colours; extract a mesh.

    Intrinsics use splat2sim's convention (pixel centres at +0.5); open3d puts pixel centres
    on integers, hence the half-pixel shift."""

    def __init__(self, voxel: float, trunc: float):
        limit_threads()
        import open3d as o3d

        self._o3d = o3d
        self.voxel, self.trunc = float(voxel), float(trunc)
        self.volume = o3d.pipelines.integration.ScalableTSDFVolume(
            voxel_length=self.voxel, sdf_trunc=self.trunc, color_type=o3d.pipelines.integration.TSDFVolumeColorType.RGB8
        )
        self.integrated = 0

    def integrate(self, depths: np.ndarray, rgbs: np.ndarray, views) -> None:
        """depths [C,H,W], rgbs [C,H,W,3] in [0,1], views: a ViewSet of the same C cameras."""
        o3d = self._o3d
        for depth, rgb, pose, k in zip(depths, rgbs, views.world_from_camera, views.intrinsics):
            valid = depth > 0
            if not np.any(valid):
                continue
            colour = o3d.geometry.Image(np.ascontiguousarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)))
            dimg = o3d.geometry.Image(np.ascontiguousarray(depth.astype(np.float32)))
            rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
                colour, dimg, depth_scale=1.0, depth_trunc=float(depth[valid].max()) * 1.01 + self.trunc,
                convert_rgb_to_intensity=False,
            )  # fmt: skip
            intr = o3d.camera.PinholeCameraIntrinsic(views.width, views.height, float(k[0]), float(k[1]), float(k[2] - 0.5), float(k[3] - 0.5))
            self.volume.integrate(rgbd, intr, np.linalg.inv(pose))
            self.integrated += 1

    def extract(self):
        """The zero level set as a trimesh.Trimesh (vertices merged, vertex colours)."""
        import trimesh

        mesh = self.volume.extract_triangle_mesh()
        vertices = np.asarray(mesh.vertices)
        faces = np.asarray(mesh.triangles)
        colours = np.asarray(mesh.vertex_colors)
        out = trimesh.Trimesh(vertices, faces, process=False)
        if len(colours) == len(vertices) and len(vertices):
            rgba = np.concatenate([(colours * 255).round().astype(np.uint8), np.full((len(colours), 1), 255, np.uint8)], 1)
            out.visual.vertex_colors = rgba
        out.merge_vertices()
        return out
