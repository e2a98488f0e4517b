"""Unit checks of the poses stage's pieces on synthetic numpy data (fast, no SfM)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from splat2sim.errors import ConfigError
from splat2sim.stages.poses import gravity, importers, quality, scale, sfm
from splat2sim.stages.poses.solved import Solved, intrinsics_from_params, invert_rigid


def rot(axis, deg):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    a = np.radians(deg)
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * K @ K


def look_at(centre, target, up=(0, 0, 1)):
    """world_from_camera (OpenCV axes) of a level camera at ``centre`` looking at ``target``."""
    z = np.asarray(target, float) - centre
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    T = np.eye(4)
    T[:3, :3] = np.stack([x, y, z], axis=1)
    T[:3, 3] = centre
    return T


def orbit(n=24, radius=0.75, height=0.45, arc=120.0, target=(0, 0, 0.05)):
    out = []
    for a in np.radians(np.linspace(0, arc, n)):
        out.append(look_at(np.array([radius * np.cos(a), radius * np.sin(a), height]), target))
    return np.asarray(out)


def table_scene(rng, n_plane=1500, n_objects=400, n_outliers=100, noise=0.001):
    plane = np.column_stack([rng.uniform(-0.6, 0.6, n_plane), rng.uniform(-0.4, 0.4, n_plane), rng.normal(0, noise, n_plane)])
    objects = np.column_stack([rng.uniform(-0.15, 0.15, n_objects), rng.uniform(-0.15, 0.15, n_objects), rng.uniform(0.0, 0.2, n_objects)])
    outliers = rng.uniform(-2, 2, (n_outliers, 3))
    return np.vstack([plane, objects, outliers])


def to_sfm(points, wfc, s, R, t):
    """Move a world-frame scene into an arbitrary 'SfM' frame: x_sfm = s R x + t."""
    p = s * points @ R.T + t
    out = []
    for T in wfc:
        new = np.eye(4)
        new[:3, :3] = R @ T[:3, :3]
        new[:3, 3] = s * R @ T[:3, 3] + t
        out.append(new)
    return p, np.asarray(out)


# ----------------------------------------------------------------------------- gravity
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_support_plane_recovers_gravity_and_origin_in_an_arbitrary_frame(seed):
    rng = np.random.default_rng(seed)
    points = table_scene(rng)
    wfc = orbit()
    R = rot(rng.normal(size=3), rng.uniform(20, 170))
    s, t = rng.uniform(0.2, 5.0), rng.normal(size=3) * 3
    p_sfm, wfc_sfm = to_sfm(points, wfc, s, R, t)
    frame = gravity.find_world_frame(p_sfm, wfc_sfm, seed=seed)
    assert frame.plane.found
    up_sfm = R @ [0, 0, 1]
    assert np.degrees(np.arccos(np.clip(frame.plane.normal @ up_sfm, -1, 1))) < 0.5
    # The world frame's z is the true up; the origin lies on the table (z = 0) near the look-at point.
    world_from_sfm = frame.rotation
    assert np.allclose(world_from_sfm[2], up_sfm, atol=0.01)
    origin_world = (R.T @ (frame.origin_sfm - t)) / s
    assert abs(origin_world[2]) < 0.002
    assert np.linalg.norm(origin_world[:2]) < 0.02
    assert np.allclose(world_from_sfm @ world_from_sfm.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(world_from_sfm) > 0


def test_sign_puts_cameras_above_even_when_the_floor_is_bigger_but_below_the_scene():
    rng = np.random.default_rng(5)
    table = table_scene(rng, n_outliers=0)
    floor = np.column_stack([rng.uniform(-2, 2, 3000), rng.uniform(-2, 2, 3000), np.full(3000, -0.75)])
    wfc = orbit()
    frame = gravity.find_world_frame(np.vstack([table, floor]), wfc)
    # The floor has more points, but the scene centre (where the cameras look) is on the table.
    assert frame.plane.normal[2] > 0.999
    assert abs(frame.origin_sfm[2]) < 0.003


def test_no_plane_falls_back_to_the_cameras_up_direction():
    rng = np.random.default_rng(3)
    blob = rng.normal(0, 0.2, (500, 3))
    frame = gravity.find_world_frame(blob, orbit(), threshold_fraction=0.001)
    assert not frame.plane.found
    assert frame.plane.normal[2] > 0.99


def test_camera_up_prior_ignores_how_far_the_cameras_look_down():
    steep = orbit(height=1.5)  # looking down ~60 degrees
    assert gravity.camera_up_prior(steep) @ [0, 0, 1] > 0.9999


# ----------------------------------------------------------------------------- similarity
def test_apply_similarity_moves_cameras_and_points_consistently():
    rng = np.random.default_rng(0)
    wfc = orbit(6)
    solved = Solved(
        names=[f"f{i}.jpg" for i in range(6)],
        registered=np.ones(6, bool),
        cam_from_world=np.array([invert_rigid(T) for T in wfc]),
        camera_index=np.zeros(6, int),
        cameras=[intrinsics_from_params("PINHOLE", 640, 480, [500, 500, 320, 240])],
        points=rng.normal(size=(50, 3)),
        colors=np.zeros((50, 3), np.uint8),
    )

    # Pixel of each point before == after.
    def project(sol):
        out = []
        for T in sol.cam_from_world:
            X = sol.points @ T[:3, :3].T + T[:3, 3]
            out.append(X[:, :2] / X[:, 2:])
        return np.asarray(out)

    before = project(solved)
    R, s, t = rot([1, 2, 3], 40), 2.5, np.array([0.3, -1, 2])
    centres = solved.centers().copy()
    solved.apply_similarity(s, R, t)
    assert np.allclose(project(solved), before, atol=1e-9)
    assert np.allclose(solved.centers(), s * centres @ R.T + t, atol=1e-9)


# ----------------------------------------------------------------------------- imports
def _frames_json(n, w=640, h=480):
    return {
        "image_size": {"width": w, "height": h},
        "source": {"kind": "images"},
        "frames": [{"file": f"images/frame_{i:06d}.jpg", "source_file": f"IMG_{i:04d}.JPG"} for i in range(n)],
    }


def test_transforms_json_opengl_poses_convert_to_opencv(tmp_path):
    wfc = orbit(8)
    frames = []
    applied = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, -1, 0]], float)  # as ns-process-data writes it
    for i, T in enumerate(wfc):
        c2w_gl = T @ np.diag([1, -1, -1, 1])  # OpenCV -> OpenGL camera axes
        frames.append({"file_path": f"images/IMG_{i:04d}.JPG", "transform_matrix": c2w_gl.tolist()})
    data = {
        "w": 1280,
        "h": 960,
        "fl_x": 1000.0,
        "fl_y": 1000.0,
        "cx": 640.0,
        "cy": 480.0,
        "k1": 0.01,
        "applied_transform": applied.tolist(),
        "frames": frames,
    }
    path = tmp_path / "transforms.json"
    path.write_text(json.dumps(data))
    kind, resolved = importers.resolve_import(tmp_path)
    assert kind == "transforms" and resolved == path
    imp = importers.import_transforms(path, _frames_json(10))
    assert imp.matched == 8 and imp.kind == "nerfstudio"
    assert not imp.solved.registered[8:].any()
    got = imp.solved.world_from_camera()[:8]
    assert np.allclose(got, wfc, atol=1e-9)
    cam = imp.solved.cameras[0]
    # Rescaled from 1280x960 to the keyframes' 640x480.
    assert cam["width"] == 640 and cam["fx"] == pytest.approx(500.0) and cam["cx"] == pytest.approx(320.0)
    assert cam["model"] == "OPENCV" and cam["distortion"]["k1"] == pytest.approx(0.01)
    assert imp.notes["applied_transform"] == applied.tolist()


def test_transforms_json_camera_angle_and_unmatched_names(tmp_path):
    frames = [{"file_path": "./train/r_0", "transform_matrix": np.eye(4).tolist()}]
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"camera_angle_x": 2 * np.arctan(0.5), "frames": frames}))
    with pytest.raises(Exception, match="matches a keyframe"):
        importers.import_transforms(path, _frames_json(3))


def test_import_path_that_is_neither_format_is_a_clear_error(tmp_path):
    with pytest.raises(Exception, match="neither a COLMAP model"):
        importers.resolve_import(tmp_path)


# ----------------------------------------------------------------------------- marker / scale
def _solved_orbit(n=12):
    wfc = orbit(n)
    return Solved(
        names=[f"frame_{i:06d}.jpg" for i in range(n)],
        registered=np.ones(n, bool),
        cam_from_world=np.array([invert_rigid(T) for T in wfc]),
        camera_index=np.zeros(n, int),
        cameras=[intrinsics_from_params("SIMPLE_RADIAL", 640, 480, [520, 320, 240, 0.0])],
    )


def test_triangulation_of_marker_corners_measures_the_side():
    solved = _solved_orbit()
    side = 0.08
    corners = np.array([[0, 0, 0], [side, 0, 0], [side, side, 0], [0, side, 0]]) + [0.1, -0.05, 0]
    rng = np.random.default_rng(0)
    measured = []
    for k in range(4):
        rays = []
        for T in solved.cam_from_world:
            X = T[:3, :3] @ corners[k] + T[:3, 3]
            rays.append(X[:2] / X[2] + rng.normal(0, 0.2 / 520, 2))  # 0.2 px noise
        measured.append(scale.triangulate(np.asarray(rays), solved.cam_from_world))
    sides = scale._square_sides(np.asarray(measured))
    assert np.median(sides) == pytest.approx(side, rel=0.005)


def test_marker_edges_refine_corners_of_a_rendered_marker():
    cv2 = pytest.importorskip("cv2")
    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50)
    pixels = 600
    marker = cv2.aruco.generateImageMarker(dictionary, 7, pixels)
    canvas = np.full((pixels * 2, pixels * 2), 255, np.uint8)
    canvas[pixels // 2 : pixels // 2 + pixels, pixels // 2 : pixels // 2 + pixels] = marker
    src = np.array([[300, 300], [900, 300], [900, 900], [300, 900]], np.float64) - 0.5  # corners of the black square
    dst = np.array([[212.3, 140.7], [262.9, 151.2], [255.4, 203.8], [201.1, 190.6]])
    H = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32))
    # Render like a camera: supersample 8x and area-average in linear light, then
    # gamma-encode (the refinement linearises before locating edges).
    S = np.diag([8.0, 8.0, 1.0])
    linear = (canvas.astype(np.float32) / 255.0) ** 2.2
    big = cv2.warpPerspective(linear, S @ H, (480 * 8, 360 * 8), flags=cv2.INTER_LINEAR, borderValue=0.6)
    small = cv2.resize(big, (480, 360), interpolation=cv2.INTER_AREA)
    image = np.clip(255.0 * small ** (1 / 2.2) + 0.5, 0, 255).astype(np.uint8)
    # In OpenCV's convention the pixel grid after area-averaging is shifted by (8-1)/16 px.
    expected = dst + (1 / 8 - 1) / 2
    det = cv2.aruco.ArucoDetector(dictionary, cv2.aruco.DetectorParameters())
    corners, ids, _ = det.detectMarkers(image)
    assert ids is not None and ids.ravel().tolist() == [7]
    raw = corners[0].reshape(4, 2).astype(float)
    refined = scale.refine_corners_by_edges(image, raw, 6)
    assert np.abs(refined - expected).max() < 0.2
    assert np.abs(refined - expected).mean() <= np.abs(raw - expected).mean() + 1e-6


def test_known_length_from_pixels_on_the_support_plane():
    solved = _solved_orbit()
    cam = solved.cameras[0]
    wfc = solved.world_from_camera()
    a, b = np.array([0.1, 0.0, 0.0]), np.array([-0.2, 0.1, 0.0])
    T = solved.cam_from_world[3]
    px = []
    for X in (a, b):
        x = T[:3, :3] @ X + T[:3, 3]
        px.append([cam["fx"] * x[0] / x[2] + cam["cx"], cam["fy"] * x[1] / x[2] + cam["cy"]])
    est = scale.known_length_pixels(solved, 3, px[0], px[1], 1.5, np.array([0, 0, 1.0]), 0.0)
    assert est.scale == pytest.approx(1.5 / np.linalg.norm(a - b), rel=1e-6)
    est = scale.known_length_cameras(solved, 0, 5, 1.0)
    assert est.scale == pytest.approx(1.0 / np.linalg.norm(wfc[0, :3, 3] - wfc[5, :3, 3]))


# ----------------------------------------------------------------------------- config, pairs, diagnosis
def test_sequential_pairs_have_a_window_and_loop_closure():
    pairs = set(sfm.sequential_pairs(50, overlap=5, loop_stride=10))
    assert (0, 5) in pairs and (0, 6) not in pairs
    assert (0, 40) in pairs and (10, 40) in pairs  # loop closure among every 10th frame
    assert sfm.choose_matching("auto", 100, "images", 40) == "exhaustive"
    assert sfm.choose_matching("auto", 100, "video", 40) == "sequential"
    assert sfm.choose_matching("auto", 30, "video", 40) == "exhaustive"


def test_known_length_config_is_validated():
    from splat2sim.config import Config

    with pytest.raises(ConfigError, match="exactly one"):
        Config.defaults().apply_overrides(["poses.known_length=0.5"])
    with pytest.raises(ConfigError, match="FRAME:x1,y1:x2,y2"):
        Config.defaults().apply({"poses": {"known_length": 0.5, "known_length_pixels": "frame_0.jpg:1,2"}}, origin="test")
    cfg = Config.defaults().apply({"poses": {"known_length": 0.5, "known_length_cameras": "frame_000000.jpg,frame_000009.jpg"}}, origin="t")
    assert cfg.section("poses").known_length == 0.5
    # related keys given by separate --set options (as `build --known-length` does) are
    # checked together, in either order; a value out of range still names its own --set
    for order in (1, -1):
        sets = ["poses.known_length=0.5", "poses.known_length_cameras=frame_000000.jpg,frame_000009.jpg"][::order]
        assert Config.defaults().apply_overrides(sets).section("poses").known_length == 0.5
    with pytest.raises(ConfigError, match=r"^--set frames.target_count: frames.target_count must be >="):
        Config.defaults().apply_overrides(["frames.target_count=-3", "poses.known_length=0.5"])


def test_diagnosis_of_a_static_camera_names_parallax():
    frames_json = {"source": {"kind": "video"}, "selection": {"total_motion": 0.004}, "frames": [{"sharpness": 10.0}] * 30}
    d = quality.diagnose(frames_json)
    assert "no_parallax" in d.causes
    cause, hint = quality.failure_text(d)
    assert "parallax" in cause and "walk the camera" in hint


def test_auto_dictionary_finds_an_apriltag(tmp_path):
    cv2 = pytest.importorskip("cv2")
    tag = cv2.aruco.generateImageMarker(cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_APRILTAG_36h11), 3, 160)
    image = np.full((480, 640), 235, np.uint8)
    image[100:260, 200:360] = tag
    path = tmp_path / "frame_000000.jpg"
    cv2.imwrite(str(path), image)
    name, found = scale.detect_markers([path], "auto")
    assert name == "DICT_APRILTAG_36h11" and list(found[0]) == [3]
    # COLMAP pixel convention: the black square's corner at OpenCV (199.5, 99.5) -> (200, 100).
    assert np.allclose(found[0][3][0], [200.0, 100.0], atol=0.3)
