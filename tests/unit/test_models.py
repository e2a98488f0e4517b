"""splat2sim.models: lookup folder, checks, explicit download (local HTTP server only)."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import threading

import pytest

from splat2sim import models as M
from splat2sim.errors import DependencyError, InputError


def test_models_dir_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SPLAT2SIM_MODELS", str(tmp_path))
    assert M.models_dir() == tmp_path
    monkeypatch.delenv("SPLAT2SIM_MODELS")
    assert M.models_dir().parts[-3:] == (".cache", "splat2sim", "models")


def test_check_states(tmp_path):
    data = b"weights" * 100
    spec = dataclasses.replace(M.get_spec("sam_vit_b"), size=len(data), md5=hashlib.md5(data).hexdigest())
    assert M.check(spec, tmp_path).state == "missing"
    (tmp_path / spec.filename).write_bytes(data)
    assert M.check(spec, tmp_path).state == "ok" and M.check(spec, tmp_path).checksum == "match"
    (tmp_path / spec.filename).write_bytes(data[:-1] + b"X")
    assert M.check(spec, tmp_path).state == "checksum mismatch"
    (tmp_path / spec.filename).write_bytes(data[:-1])
    assert M.check(spec, tmp_path).state == "size mismatch"
    with pytest.raises(InputError):
        M.get_spec("nope")


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_verifies_and_cleans_up(server, tmp_path, monkeypatch):
    root, base = server
    data = b"0123456789" * 1000
    (root / "w.pth").write_bytes(data)
    spec = dataclasses.replace(M.get_spec("sam_vit_b"), size=len(data), md5=hashlib.md5(data).hexdigest())
    monkeypatch.setitem(M.MODELS, "sam_vit_b", spec)
    out = tmp_path / "models"
    path = M.download("sam_vit_b", out, url=f"{base}/w.pth")
    assert path.read_bytes() == data and M.check(spec, out).state == "ok"
    path.unlink()
    (root / "bad.pth").write_bytes(data[:-1] + b"!")
    with pytest.raises(DependencyError, match="corrupt"):
        M.download("sam_vit_b", out, url=f"{base}/bad.pth")
    assert not list(out.iterdir())  # nothing half-written left behind
    with pytest.raises(DependencyError, match="could not download"):
        M.download("sam_vit_b", out, url=f"{base}/missing.pth")
    assert not list(out.iterdir())


def test_weights_load_without_unpickling_code(tmp_path):
    import torch

    good = tmp_path / "good.pth"
    torch.save({"w": torch.ones(2)}, good)
    assert torch.equal(M.load_state_dict(good)["w"], torch.ones(2))
    bad = tmp_path / "bad.pth"
    import argparse

    torch.save({"obj": argparse.Namespace(a=1)}, bad)
    with pytest.raises(InputError):
        M.load_state_dict(bad)


def test_torchvision_dependent_packages_import():
    M.require("segment_anything", "test")
    M.require("open_clip", "test")


def test_cli_lists_models(monkeypatch, tmp_path):
    import typer
    from typer.testing import CliRunner

    from splat2sim.cli_models import register_models_command

    app = typer.Typer()

    @app.command()
    def other():
        pass

    register_models_command(app)
    monkeypatch.setenv("SPLAT2SIM_MODELS", str(tmp_path))
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    assert str(tmp_path) in result.output and "sam_vit_b" in result.output and "missing" in result.output
