"""segment.solidity on constructed splats whose answer is known: an opaque object covers its
own pixels alone; fog over the support is seen through; and the doubt it raises in the
object's confidence."""

from __future__ import annotations

import numpy as np
import torch

from splat2sim.render import Gaussians
from splat2sim.stages.segment.confidence import LOW, SOLID, object_confidence
from splat2sim.stages.segment.solidity import view_solidity
from tests.unit.test_segment_regions import _views_looking_down


def _splat(rng) -> tuple[Gaussians, np.ndarray]:
    """A support (z = 0, background), a dense opaque box standing on it (label 0) and a faint
    fog patch of the same height beside it (label 1)."""
    table = np.c_[rng.uniform(-0.3, 0.3, (6000, 2)), np.zeros(6000)]
    box = rng.uniform([-0.08, -0.03, 0.0], [-0.02, 0.03, 0.06], (3000, 3))
    fog = rng.uniform([0.03, -0.03, 0.0], [0.09, 0.03, 0.06], (60, 3))
    means = np.concatenate([table, box, fog])
    scales = np.concatenate([np.full((6000, 3), 0.006), np.full((3000, 3), 0.004), np.full((60, 3), 0.006)])
    opacity = np.concatenate([np.full(6000, 0.99), np.full(3000, 0.99), np.full(60, 0.15)])
    labels = np.concatenate([np.full(6000, -1), np.zeros(3000, int), np.ones(60, int)])
    n = len(means)
    g = Gaussians(
        torch.tensor(means, dtype=torch.float32),
        torch.tensor(np.log(scales), dtype=torch.float32),
        torch.tensor(np.tile([1.0, 0, 0, 0], (n, 1)), dtype=torch.float32),
        torch.tensor(np.log(opacity / (1 - opacity)), dtype=torch.float32),
        torch.tensor(rng.uniform(-1, 1, (n, 1, 3)), dtype=torch.float32),
    )
    return g, labels


def test_an_opaque_object_is_solid_and_fog_is_seen_through():
    rng = np.random.default_rng(0)
    g, labels = _splat(rng)
    views = _views_looking_down(rng, 4)
    solidity = view_solidity(g, views.cameras(), labels, 3, backend="torch")
    # the box covers its interior pixels alone (a 0.99-opaque layer of Gaussians 4 mm apart);
    # a ray through the fog meets a few of its 0.15-opaque Gaussians (about 1 - 0.85^n of
    # the colour), and the support behind carries the rest
    assert solidity[0] > 0.99
    assert 0.3 < solidity[1] < 0.7 < SOLID  # 0.55 here
    assert np.isnan(solidity[2])  # a label no Gaussian carries: never seen, no evidence
    native = view_solidity(g, views.cameras(), labels, 2, backend="native")
    np.testing.assert_allclose(native, solidity[:2], atol=1e-4)  # the two rasterizers' blending weights agree


def test_a_seen_through_object_is_kept_with_low_confidence_and_says_why():
    views = np.full(200, 12)
    solid, reasons = object_confidence(200, views, 16, "table", False, solidity=0.97)
    assert solid == 1.0 and reasons == []
    fog, reasons = object_confidence(200, views, 16, "table", False, solidity=0.55)
    assert fog < LOW and any("seen through" in r and "55%" in r for r in reasons)
    unmeasured, reasons = object_confidence(200, views, 16, "table", False)
    assert unmeasured == 1.0 and reasons == []


def test_a_cluster_the_views_see_through_is_rejected_with_its_evidence():
    from splat2sim.stages.segment.run import _reject_seen_through

    rng = np.random.default_rng(1)
    g, labels = _splat(rng)
    labels = np.where(labels == 1, 2, labels)  # the fog as cluster 2 of 3: the box 0, an unseen cluster 1
    solidity = view_solidity(g, _views_looking_down(rng, 4).cameras(), labels, 3, backend="native")
    clusters = [{"notes": ["box"]}, {"notes": ["unseen"]}, {"notes": ["fog"]}]
    rejected: list = []
    kept, kept_clusters, kept_solidity = _reject_seen_through(labels, g.means.numpy(), clusters, solidity, 0.7, rejected)
    assert [c["notes"] for c in kept_clusters] == [["box"], ["unseen"]]  # unseen (nan): no evidence, kept
    assert np.array_equal(kept == 0, labels == 0) and (kept[labels == 2] == -1).all()
    assert len(rejected) == 1 and rejected[0]["gaussians"] == 60 and "seen through" in rejected[0]["reason"]
    assert rejected[0]["solidity"] < 0.7 and kept_solidity[0] > 0.99
    # 0: off
    again, same, _ = _reject_seen_through(labels, g.means.numpy(), clusters, solidity, 0.0, [])
    assert np.array_equal(again, labels) and len(same) == 3
