"""Files outside the workspace the segment stage reads: model weights it would use, vocabulary."""

from __future__ import annotations

from pathlib import Path


def input_hashes(ctx) -> dict[str, str]:
    from splat2sim.stages.segment import clip_labels, sam

    cfg = ctx.config
    out: dict[str, str] = {}
    if cfg.method in ("auto", "sam"):
        found = sam.find_checkpoint(cfg)
        out["sam"] = ctx.workspace.hashes.file_hash(found.path) if found else "absent"
    if cfg.labels in ("auto", "clip"):
        path = clip_labels.find_weights(cfg)
        out["clip"] = ctx.workspace.hashes.file_hash(path) if path else "absent"
        vocab = Path(cfg.vocabulary).expanduser() if cfg.vocabulary else Path(__file__).resolve().parents[2] / "assets" / "vocabulary.txt"
        if vocab.is_file():
            out["vocabulary"] = ctx.workspace.hashes.file_hash(vocab)
    return out
