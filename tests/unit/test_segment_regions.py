"""Objects seen from above (segment.regions) and the split of 3D clusters by their footprints
(geometric.split_by_footprints), on small constructed inputs whose answer is known."""

from __future__ import annotations

import numpy as np

from splat2sim.stages.segment import geometric as G
from splat2sim.stages.segment import regions as R
from splat2sim.stages.segment.views import Views, project


def bump(shape, centre, radius, height):
    i, j = np.indices(shape)
    r2 = (i - centre[0]) ** 2 + (j - centre[1]) ** 2
    return height * np.exp(-r2 / (2 * radius**2))


def test_two_objects_joined_by_a_low_skirt_are_two_peaks():
    # a 10 cm can and a 20 cm bottle whose blurred skirts meet at ~3 cm between them
    h = np.maximum(bump((60, 100), (30, 30), 8, 0.10), bump((60, 100), (30, 62), 8, 0.20))
    skirt = np.zeros_like(h)
    skirt[25:35, 30:62] = 0.03
    h = np.maximum(h, skirt)
    grid = R.height_peaks(np.where(h > 0.01, h, 0), margin=0.01, ratio=0.3, noise=0.005)
    assert grid.max() == 2
    assert grid[30, 30] != grid[30, 62] and grid[30, 30] > 0 and grid[30, 62] > 0


def test_a_low_bowl_and_a_ball_joined_at_rim_height_are_two_peaks():
    # held-out seed 124 (bench_objects): a bowl's 6.6 cm rim and an 8.6 cm ball, 4.6 cm apart,
    # joined in the fused height map by the coarse splat's fuzz at 4.8 cm. Above the support
    # the rim rises 27 % of its top over that saddle (under peak_ratio 0.3: one object); above
    # the 1.4 cm height margin, where standing begins, it rises 35 %
    i, j = np.indices((80, 120))
    r = np.hypot(i - 40, j - 75)
    h = np.where((r > 20) & (r < 26), 0.066, np.where(r <= 20, 0.02, 0.0))
    h = np.maximum(h, np.where(np.hypot(i - 40, j - 25) <= 12, 0.086, 0.0))
    h[37:44, 36:50] = np.maximum(h[37:44, 36:50], 0.048)
    margin = 0.014
    grid = R.height_peaks(np.where(h > margin, h, 0), margin=margin, ratio=0.3, noise=0.005)
    assert grid.max() == 2 and grid[40, 25] != grid[40, 97] and grid[40, 25] > 0 and grid[40, 97] > 0


def test_two_boxes_side_by_side_are_two_peaks_by_their_broad_tops():
    # held-out seed 149 (bench_objects, phone orbit varied): boxes 11.5 and 15 cm tall, 1-2 cm
    # apart; the views that look across the gap fill it in the fused height map up to 9.6 cm,
    # so the lower box rises only 1.9 cm (24 % of its standing height) over that saddle
    h = np.zeros((60, 100))
    h[10:50, 10:45] = 0.115
    h[12:48, 50:90] = 0.150
    h[10:50, 45:50] = 0.096
    margin, noise = 0.012, 0.009  # the capture's height margin and table thickness, in metres
    kw = dict(margin=margin, ratio=0.3, noise=noise)
    assert R.height_peaks(np.where(h > margin, h, 0), **kw).max() == 1  # the prominence rule alone: one object
    grid = R.height_peaks(np.where(h > margin, h, 0), **kw, broad=0.25)
    assert grid.max() == 2 and grid[30, 20] != grid[30, 70] and grid[30, 20] > 0 and grid[30, 70] > 0
    # a stepped object (a bulldozer's cab on its body) has no saddle: one object
    step = np.zeros((60, 100))
    step[10:50, 10:90] = 0.06
    step[15:45, 50:80] = 0.12
    assert R.height_peaks(np.where(step > margin, step, 0), **kw, broad=0.25).max() == 1


def test_only_a_compact_top_is_a_broad_peak():
    # the broad-top rule asks the top to hold a disc of half its equivalent radius
    # (R.COMPACT): a bowl's rim broken into arcs by the splat's noise and a bulldozer's blade
    # in front of its body rise as far over their saddle as the lower box above, yet are parts
    kw = dict(margin=0.01, ratio=0.3, noise=0.005, broad=0.25)
    i, j = np.indices((80, 80))
    r = np.hypot(i - 40, j - 40)
    wavy = np.where((r > 22) & (r < 27), 0.05 + 0.005 * np.sin(3 * np.arctan2(i - 40, j - 40)), 0.0)  # +-5 mm: three arcs
    assert R.height_peaks(wavy, **kw).max() == 1
    body = np.where(np.hypot(i - 40, j - 30) <= 14, 0.12, 0.0)
    body[20:60, 50:54] = 0.08  # a 4-cell blade, 40 cells long, standing 8 cm beside a 12 cm body
    body[20:60, 44:50] = np.maximum(body[20:60, 44:50], 0.065)  # the saddle between them at 6.5 cm
    assert R.height_peaks(body, **kw).max() == 1
    square = body.copy()
    square[25:55, 50:80] = 0.08  # the same step with a broad square top: a box beside the body
    assert R.height_peaks(square, **kw).max() == 2


def test_a_shoulder_or_a_ring_is_one_object():
    # a mug from above: a 9 cm body (a disc), and a handle on its side that rises from 6.5 cm
    # where it meets the body's wall to 7 cm (0.5 cm: 7 % of its top)
    i, j = np.indices((60, 60))
    h = np.where(np.hypot(i - 30, j - 30) <= 8, 0.09, 0.0)
    h[28:33, 38:46] = np.linspace(0.065, 0.07, 8)
    for broad in (0.0, 0.25):  # the handle is a sliver beside the body: not a broad top of its own
        assert R.height_peaks(np.where(h > 0.01, h, 0), margin=0.01, ratio=0.3, noise=0.005, broad=broad).max() == 1
    # a bowl seen from above: a 5 cm ring with +-3 mm of noise around a low floor
    i, j = np.indices((80, 80))
    r = np.hypot(i - 40, j - 40)
    ring = np.where((r > 20) & (r < 28), 0.05 + 0.003 * np.sin(7 * np.arctan2(i - 40, j - 40)), 0.0)
    grid = R.height_peaks(ring, margin=0.01, ratio=0.3, noise=0.005, broad=0.25)
    assert grid.max() == 1 and (grid > 0).sum() == (ring > 0.01).sum()


def test_surface_points_invert_the_projection():
    rng = np.random.default_rng(0)
    views = _views_looking_down(rng, 1)
    pts = rng.uniform([-0.1, -0.1, 0.0], [0.1, 0.1, 0.05], (50, 3))
    uv, z = project(pts, views)
    depth = np.zeros((views.height, views.width))
    px = np.floor(uv[0]).astype(int)
    # the point through pixel centre (u, v) at depth z: exact when the point sits at the centre
    centre = np.floor(uv[0]) + 0.5
    fx, fy, cx, cy = views.intrinsics[0]
    cam = np.c_[(centre[:, 0] - cx) / fx * z[0], (centre[:, 1] - cy) / fy * z[0], z[0]]
    expected = cam @ views.world_from_camera[0, :3, :3].T + views.world_from_camera[0, :3, 3]
    depth[px[:, 1], px[:, 0]] = z[0]
    got = R.surface_points(depth, views.world_from_camera[0], views.intrinsics[0])[px[:, 1], px[:, 0]]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_depth_votes_see_through_a_blur_and_agree_with_a_surface():
    rng = np.random.default_rng(1)
    views = _views_looking_down(rng, 4)
    depth = np.stack([_plane_depth(views, v) for v in range(views.num)])
    valid = np.ones_like(depth, bool)
    # view 0's surface: the plane itself, plus one pixel that (wrongly) stands 5 cm above it
    points = R.surface_points(depth[0], views.world_from_camera[0], views.intrinsics[0])
    points[60, 80, 2] += 0.05
    beyond, agree = R.depth_votes(points, 0, views, depth, valid, factor=6.0)
    assert beyond[60, 80] == 3 and agree[60, 80] == 0  # every other view sees the table behind it
    inner = np.s_[20:-20, 20:-20]
    others = np.ones_like(beyond, bool)
    others[60, 80] = False
    assert (beyond[inner][others[inner]] == 0).all() and (agree[inner][others[inner]] == 3).all()


def test_split_by_footprints_cuts_a_bridge_between_two_objects():
    rng = np.random.default_rng(2)
    a = rng.normal([0.0, 0.0, 0.05], 0.01, (200, 3))
    b = rng.normal([0.08, 0.0, 0.05], 0.01, (200, 3))
    bridge = np.c_[np.linspace(0.01, 0.07, 20), np.zeros(20), np.full(20, 0.04)]  # a low skirt in the gap
    pts = np.concatenate([a, b, bridge])
    pairs = G.link_pairs(pts, 0.012)
    comp = G.connected_clusters(pts, 0.012)
    assert comp[0] == comp[250] == comp[400]  # 3D proximity alone: one object
    cell, lo = 0.005, np.array([-0.05, -0.05])
    i, j = np.indices((40, 20))
    x, y = lo[0] + (i + 0.5) * cell, lo[1] + (j + 0.5) * cell
    grid = np.where(np.hypot(x, y) < 0.025, 1, 0) + np.where(np.hypot(x - 0.08, y) < 0.025, 2, 0)
    out = G.split_by_footprints(pts, comp, grid.astype(np.int32), lo, cell, pairs)
    kept = comp >= 0  # (a few outliers of the blobs are noise either way)
    (la,), (lb,) = np.unique(out[:200][kept[:200]]), np.unique(out[200:400][kept[200:400]])
    assert la != lb and la >= 0 and lb >= 0
    # the bridge goes to the nearer object on each side
    assert (out[400:405] == la).all() and (out[415:420] == lb).all()


def _views_looking_down(rng, count: int) -> Views:
    """``count`` cameras 0.5 m above the origin, tilted a little, looking at the plane z = 0."""
    from splat2sim.stages.mesh.views import look_at

    w2c = []
    for k in range(count):
        eye = np.array([0.1 * np.cos(k), 0.1 * np.sin(k), 0.5])
        w2c.append(look_at(eye, np.zeros(3), np.array([0.0, 1.0, 0.0])))
    intr = np.tile([150.0, 150.0, 80.0, 60.0], (count, 1))
    return Views([f"{k}.jpg" for k in range(count)], np.stack(w2c), intr, 160, 120, None, [np.zeros(4)] * count, (160, 120))


def _plane_depth(views: Views, v: int) -> np.ndarray:
    """Camera-z depth of the plane z = 0 at every pixel centre of view v."""
    fx, fy, cx, cy = views.intrinsics[v]
    u, w = np.meshgrid(np.arange(views.width) + 0.5, np.arange(views.height) + 0.5)
    rays = np.stack([(u - cx) / fx, (w - cy) / fy, np.ones_like(u)], -1) @ views.world_from_camera[v, :3, :3].T
    return -views.world_from_camera[v, 2, 3] / rays[..., 2]


def test_a_cluster_at_the_support_edge_reaches_beyond_it():
    rng = np.random.default_rng(3)
    table = np.c_[rng.uniform(-0.4, 0.4, (20000, 2)), rng.normal(0, 0.002, 20000)]
    hole = np.hypot(table[:, 0], table[:, 1]) < 0.05  # the table under an object is never seen
    region = G.SupportRegion.of(table[~hole], margin=0.01, cell=0.02)
    mug = rng.uniform(-0.04, 0.04, (300, 2))
    assert region.beyond(mug) == 0.0  # in the filled hole: on the support
    near_edge = rng.uniform([0.28, -0.05], [0.34, 0.05], (300, 2))  # 6 cm from the edge
    assert region.beyond(near_edge) == 0.0
    fray = rng.uniform([0.37, -0.1], [0.43, 0.1], (300, 2))  # the edge's blur, straddling it
    assert region.beyond(fray) > 0.5


def test_a_sparse_blur_over_the_support_is_not_dense_enough_to_be_an_object():
    rng = np.random.default_rng(4)
    table = np.c_[rng.uniform(-0.4, 0.4, (16000, 2)), np.zeros(16000)]  # 25,000 per m^2
    region = G.SupportRegion.of(table, margin=0.01, cell=0.02)
    assert abs(region.density - 25000) < 1500
    # a 6 cm can: its top and side Gaussians over a 28 cm^2 footprint (~5x the table's density)
    angle = rng.uniform(0, 2 * np.pi, 300)
    can = np.c_[0.03 * np.cos(angle), 0.03 * np.sin(angle)]
    can = np.concatenate([can, rng.uniform(-0.02, 0.02, (100, 2))])
    assert region.density_ratio(can) > 2.0
    # a 30x20 cm blur of 90 Gaussians (~1,500 per m^2)
    blur = rng.uniform([0.0, 0.0], [0.3, 0.2], (90, 2))
    assert region.density_ratio(blur) < G.MIN_DENSITY_RATIO


def test_a_low_skirt_around_an_object_is_background():
    # a 12 cm box whose shadow the splat raised to 2.5 cm beside it; a mug's 7 cm handle stays
    height = np.zeros((40, 60))
    height[10:30, 10:25] = 0.12
    height[10:30, 25:45] = 0.025
    height[18:22, 45:48] = 0.0
    grid = np.where(height > 0.01, 1, 0).astype(np.int32)
    marked = R.mark_skirts(grid, height, ratio=0.3)
    assert (marked[10:30, 10:25] == 1).all() and (marked[10:30, 25:45] == R.SKIRT).all()
    mug = np.zeros((20, 30))
    mug[5:15, 5:15] = 0.09
    mug[8:12, 15:20] = 0.07
    assert (R.mark_skirts(np.where(mug > 0, 1, 0).astype(np.int32), mug, ratio=0.3)[mug > 0] == 1).all()
    # Gaussians over a skirt are background; over nothing seen, they go to the nearest footprint
    pts = np.c_[np.linspace(0.0, 0.1, 50), np.zeros(50), np.full(50, 0.02)]
    g = np.array([[1] * 4 + [R.SKIRT] * 4 + [0] * 4], np.int32).T @ np.ones((1, 2), np.int32)  # cells along x
    out = G.split_by_footprints(pts, np.zeros(50, np.int64), g, np.array([-0.001, -0.01]), 0.1 / 11.5, G.link_pairs(pts, 0.005))
    x_cell = np.floor((pts[:, 0] + 0.001) / (0.1 / 11.5)).astype(int)
    assert (out[x_cell < 4] >= 0).all() and (out[(x_cell >= 4) & (x_cell < 8)] == -1).all()
