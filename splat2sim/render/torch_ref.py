"""The pure-PyTorch reference rasterizer: the oracle every other backend is tested
against. Clarity over speed; it follows splat2sim.render.conventions line by line and is
differentiable through ordinary autograd. Works on any device torch supports.
"""

from __future__ import annotations

import torch

from splat2sim.render import conventions as cv


def quat_to_rotmat(quats: torch.Tensor) -> torch.Tensor:
    """quats [...,4] (w,x,y,z), normalized here -> rotation matrices [...,3,3]."""
    q = quats / quats.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    rows = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]  # fmt: skip
    return torch.stack(rows, dim=-1).reshape(*q.shape[:-1], 3, 3)


def project(
    means: torch.Tensor,  # [N,3]
    quats: torch.Tensor,  # [N,4]
    log_scales: torch.Tensor,  # [N,3]
    viewmats: torch.Tensor,  # [C,4,4] camera_from_world
    intrinsics: torch.Tensor,  # [C,4] fx, fy, cx, cy
    width: int,
    height: int,
    near: float,
    far: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """EWA projection. Returns means2d [C,N,2], conics [C,N,3], depths [C,N] (all zero
    where culled) and radii [C,N] int32 (0 = culled)."""
    R = viewmats[:, :3, :3]  # [C,3,3]
    t = viewmats[:, :3, 3]  # [C,3]
    pc = torch.einsum("cij,nj->cni", R, means) + t[:, None, :]  # [C,N,3]
    x, y, z = pc.unbind(-1)  # [C,N]
    valid = (z > near) & (z < far)
    z = torch.where(valid, z, torch.ones_like(z))  # keep culled entries finite

    rq = quat_to_rotmat(quats)  # [N,3,3]
    m = rq * torch.exp(log_scales)[:, None, :]  # [N,3,3] = Rq diag(s)
    cov = m @ m.transpose(1, 2)  # [N,3,3]
    cov_c = R[:, None] @ cov[None] @ R.transpose(1, 2)[:, None]  # [C,N,3,3]

    fx, fy, cx, cy = (v[:, None] for v in intrinsics.unbind(-1))  # [C,1]
    tan_fovx = 0.5 * width / fx
    tan_fovy = 0.5 * height / fy
    lim_xp = (width - cx) / fx + cv.FOV_MARGIN * tan_fovx
    lim_xn = cx / fx + cv.FOV_MARGIN * tan_fovx
    lim_yp = (height - cy) / fy + cv.FOV_MARGIN * tan_fovy
    lim_yn = cy / fy + cv.FOV_MARGIN * tan_fovy
    tx = z * torch.clamp(x / z, min=-lim_xn.expand_as(z), max=lim_xp.expand_as(z))
    ty = z * torch.clamp(y / z, min=-lim_yn.expand_as(z), max=lim_yp.expand_as(z))
    zero = torch.zeros_like(z)
    J = torch.stack([fx / z, zero, -fx * tx / (z * z), zero, fy / z, -fy * ty / (z * z)], dim=-1).reshape(*z.shape, 2, 3)  # [C,N,2,3]
    cov2d = J @ cov_c @ J.transpose(-1, -2)  # [C,N,2,2]
    a = cov2d[..., 0, 0] + cv.EPS2D
    b = cov2d[..., 0, 1]
    c = cov2d[..., 1, 1] + cv.EPS2D
    det = a * c - b * b
    valid = valid & (det > 0)
    det = torch.where(valid, det, torch.ones_like(det))
    conics = torch.stack([c / det, -b / det, a / det], dim=-1)  # [C,N,3]
    means2d = torch.stack([fx * x / z + cx, fy * y / z + cy], dim=-1)  # [C,N,2]

    with torch.no_grad():
        mid = 0.5 * (a + c)
        lam = mid + torch.sqrt(torch.clamp(mid * mid - det, min=0.1))
        r = torch.ceil(3.0 * torch.sqrt(lam))
        u, v = means2d.unbind(-1)
        valid = valid & (r > 0)
        valid = valid & (u + r > 0) & (u - r < width) & (v + r > 0) & (v - r < height)
        radii = torch.where(valid, r, torch.zeros_like(r)).to(torch.int32)

    means2d = torch.where(valid[..., None], means2d, torch.zeros_like(means2d))
    conics = torch.where(valid[..., None], conics, torch.zeros_like(conics))
    depths = torch.where(valid, z, torch.zeros_like(z))
    return means2d, conics, depths, radii


def sh_basis(degree: int, dirs: torch.Tensor) -> torch.Tensor:
    """dirs [...,3] unit -> basis [..., (degree+1)^2] with the 3DGS signs and constants."""
    x, y, z = dirs.unbind(-1)
    out = [torch.full_like(x, cv.SH_C0)]
    if degree >= 1:
        out += [-cv.SH_C1 * y, cv.SH_C1 * z, -cv.SH_C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        c2 = cv.SH_C2
        out += [
            c2[0] * x * y,
            c2[1] * y * z,
            c2[2] * (2 * zz - xx - yy),
            c2[3] * x * z,
            c2[4] * (xx - yy),
        ]
    if degree >= 3:
        c3 = cv.SH_C3
        out += [
            c3[0] * y * (3 * xx - yy),
            c3[1] * x * y * z,
            c3[2] * y * (4 * zz - xx - yy),
            c3[3] * z * (2 * zz - 3 * xx - 3 * yy),
            c3[4] * x * (4 * zz - xx - yy),
            c3[5] * z * (xx - yy),
            c3[6] * x * (xx - 3 * yy),
        ]
    return torch.stack(out, dim=-1)


def eval_sh(
    degree: int,
    dirs: torch.Tensor,  # [C,N,3] unit
    coeffs: torch.Tensor,  # [N,K,3]
) -> torch.Tensor:
    """SH colour before the +0.5 offset: [C,N,3]."""
    nb = (degree + 1) ** 2
    basis = sh_basis(degree, dirs)  # [C,N,B]
    return torch.einsum("cnb,nbk->cnk", basis, coeffs[:, :nb, :])


def tile_grid(width: int, height: int) -> tuple[int, int]:
    """Number of tiles (across, down)."""
    return (width + cv.TILE_SIZE - 1) // cv.TILE_SIZE, (height + cv.TILE_SIZE - 1) // cv.TILE_SIZE


@torch.no_grad()
def bin_tiles(
    means2d: torch.Tensor,  # [C,N,2]
    radii: torch.Tensor,  # [C,N] int
    depths: torch.Tensor,  # [C,N]
    width: int,
    height: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns tile_offsets [C*TY*TX+1] int64 and flat_ids [M] int64: the Gaussians of
    tile t (camera-major, then row-major tiles) are flat_ids[offsets[t]:offsets[t+1]],
    front to back (ties broken by index)."""
    C, N = radii.shape
    tx_n, ty_n = tile_grid(width, height)
    dev = means2d.device
    ts = float(cv.TILE_SIZE)
    r = radii.to(means2d.dtype)
    u, v = means2d.unbind(-1)
    x0 = torch.clamp(torch.floor((u - r) / ts), 0, tx_n).long()
    x1 = torch.clamp(torch.ceil((u + r) / ts), 0, tx_n).long()
    y0 = torch.clamp(torch.floor((v - r) / ts), 0, ty_n).long()
    y1 = torch.clamp(torch.ceil((v + r) / ts), 0, ty_n).long()
    counts = torch.where(radii > 0, (x1 - x0) * (y1 - y0), torch.zeros_like(x0)).reshape(-1)  # [C*N]
    total = int(counts.sum())
    flat_cn = torch.repeat_interleave(torch.arange(C * N, device=dev), counts)  # [M]
    first = torch.cumsum(counts, 0) - counts
    local = torch.arange(total, device=dev) - first[flat_cn]
    w = (x1 - x0).reshape(-1)[flat_cn]
    tile_x = x0.reshape(-1)[flat_cn] + local % w.clamp(min=1)
    tile_y = y0.reshape(-1)[flat_cn] + local // w.clamp(min=1)
    cam = flat_cn // N
    tile = cam * (tx_n * ty_n) + tile_y * tx_n + tile_x  # [M]
    order = torch.sort(depths.reshape(-1)[flat_cn], stable=True).indices
    order = order[torch.sort(tile[order], stable=True).indices]
    flat_ids = (flat_cn % N)[order]
    per_tile = torch.bincount(tile, minlength=C * tx_n * ty_n)
    offsets = torch.zeros(C * tx_n * ty_n + 1, dtype=torch.long, device=dev)
    offsets[1:] = torch.cumsum(per_tile, 0)
    return offsets, flat_ids


def rasterize(
    means2d: torch.Tensor,  # [C,N,2]
    conics: torch.Tensor,  # [C,N,3]
    feats: torch.Tensor,  # [C,N,D]
    opacities: torch.Tensor,  # [C,N]
    tile_offsets: torch.Tensor,  # [C*TY*TX+1]
    flat_ids: torch.Tensor,  # [M]
    width: int,
    height: int,
    top_k: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Front-to-back alpha compositing, one 16x16 tile at a time.

    Returns out [C,H,W,D] (sum of w * feats, no background), alpha [C,H,W,1],
    median_ids [C,H,W] int64 (-1 = none), topk_ids [C,H,W,top_k] int64 (-1 = empty) and
    topk_weights [C,H,W,top_k] (detached)."""
    C, N, D = feats.shape
    tx_n, ty_n = tile_grid(width, height)
    ts = cv.TILE_SIZE
    dev, dt = feats.device, feats.dtype
    iy, ix = torch.meshgrid(torch.arange(ts, device=dev), torch.arange(ts, device=dev), indexing="ij")
    local_px = torch.stack([ix.reshape(-1), iy.reshape(-1)], dim=-1).to(dt) + 0.5  # [P,2], P = 256
    offsets = tile_offsets.tolist()
    outs, alphas, medians, k_ids, k_ws = [], [], [], [], []
    for c in range(C):
        for ty in range(ty_n):
            for tx in range(tx_n):
                t = (c * ty_n + ty) * tx_n + tx
                ids = flat_ids[offsets[t] : offsets[t + 1]].long()  # [L]
                pix = local_px + torch.tensor([tx * ts, ty * ts], device=dev, dtype=dt)  # [P,2]
                o, a, med, ki, kw = _composite_tile(pix, means2d[c, ids], conics[c, ids], feats[c, ids], opacities[c, ids], ids, top_k)
                outs.append(o)
                alphas.append(a)
                medians.append(med)
                k_ids.append(ki)
                k_ws.append(kw)

    def assemble(tiles: list[torch.Tensor]) -> torch.Tensor:
        x = torch.stack(tiles).reshape(C, ty_n, tx_n, ts, ts, -1)
        x = x.permute(0, 1, 3, 2, 4, 5).reshape(C, ty_n * ts, tx_n * ts, -1)
        return x[:, :height, :width]

    return (
        assemble(outs),
        assemble(alphas),
        assemble(medians)[..., 0],
        assemble(k_ids),
        assemble(k_ws),
    )


def _composite_tile(
    pix: torch.Tensor,  # [P,2] pixel centres
    means2d: torch.Tensor,  # [L,2] sorted front to back
    conics: torch.Tensor,  # [L,3]
    feats: torch.Tensor,  # [L,D]
    opacities: torch.Tensor,  # [L]
    ids: torch.Tensor,  # [L] Gaussian indices
    top_k: int,
):
    P, L = pix.shape[0], means2d.shape[0]
    d = means2d[None, :, :] - pix[:, None, :]  # [P,L,2]
    dx, dy = d[..., 0], d[..., 1]
    a, b, c = conics[:, 0], conics[:, 1], conics[:, 2]  # [L]
    sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy  # [P,L]
    alpha = torch.clamp(opacities * torch.exp(-sigma), max=cv.ALPHA_MAX)  # [P,L]
    keep = (sigma >= 0) & (alpha >= cv.ALPHA_MIN)
    alpha = torch.where(keep, alpha, torch.zeros_like(alpha))
    with torch.no_grad():
        # T is non-increasing, so "T after this Gaussian > T_MIN" holds for a prefix: the
        # first Gaussian that would take T to T_MIN or below ends the pixel, unused.
        incl = keep & (torch.cumprod(1 - alpha, dim=1) > cv.T_MIN)
    alpha = torch.where(incl, alpha, torch.zeros_like(alpha))
    t_after = torch.cumprod(1 - alpha, dim=1)  # [P,L]
    t_before = torch.cat([torch.ones_like(t_after[:, :1]), t_after[:, :-1]], dim=1)
    w = alpha * t_before  # [P,L]
    out = w @ feats  # [P,D]
    t_final = t_after[:, -1:] if L > 0 else torch.ones(P, 1, dtype=feats.dtype, device=feats.device)
    alpha_out = 1 - t_final  # [P,1]
    with torch.no_grad():
        hit = incl & (t_after <= cv.MEDIAN_T)
        first = torch.argmax(hit.to(torch.int8), dim=1) if L > 0 else torch.zeros(P, dtype=torch.long)
        median = torch.where(hit.any(dim=1), ids[first] if L > 0 else first, torch.full_like(first, -1))
        k_ids = torch.full((P, top_k), -1, dtype=torch.long, device=pix.device)
        k_w = torch.zeros((P, top_k), dtype=feats.dtype, device=pix.device)
        k = min(top_k, L)
        if k > 0:
            vals, idx = torch.topk(w.detach(), k, dim=1)
            k_ids[:, :k] = torch.where(vals > 0, ids[idx], torch.full_like(idx, -1))
            k_w[:, :k] = vals
    return out, alpha_out, median[:, None], k_ids, k_w
