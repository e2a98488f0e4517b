"""Building and loading the native torch extensions (the CPU kernels of
splat2sim.render.native and the CUDA kernels of splat2sim.render.native_cuda): where the
sources and builds live, one build at a time per extension, failures summarised into a
DependencyError, and that error cached so a broken toolchain is not retried on every
render.

Each extension module keeps its state in its own globals (``_lock``, ``_module``,
``_error``) so that tests can reset them; :func:`load_once` reads and writes them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import torch

from splat2sim.errors import DependencyError


class NotBuiltError(DependencyError):
    """The extension is not built and the caller asked not to build it. Not cached: a
    later call that may build should try."""


def csrc_dir() -> Path:
    """The csrc/ folder with the kernel sources ($SPLAT2SIM_CSRC overrides)."""
    env = os.environ.get("SPLAT2SIM_CSRC")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "csrc"


def build_dir() -> Path:
    """Where compiled extensions are cached: ``$SPLAT2SIM_EXT_DIR`` or
    ``~/.cache/splat2sim/torch_extensions``, per torch and Python version."""
    env = os.environ.get("SPLAT2SIM_EXT_DIR")
    base = Path(env) if env else Path.home() / ".cache" / "splat2sim" / "torch_extensions"
    tag = f"torch{torch.__version__.replace('+', '_')}-py{sys.version_info.major}{sys.version_info.minor}"
    return base / tag


def missing_sources(sources: Sequence[str], src: Path | None = None) -> list[str]:
    """The entries of ``sources`` (relative to csrc/) that are not there."""
    src = src or csrc_dir()
    return [s for s in sources if not (src / s).is_file()]


def is_built(out: Path, name: str) -> bool:
    return any(out.glob(f"{name}*.so"))


def summarize_build_error(text: str, limit: int = 6) -> str:
    """The compiler lines worth showing (errors first), indented for a DependencyError."""
    lines = [ln.strip() for ln in text.splitlines()]
    errs = [ln for ln in lines if re.search(r"\berror\b|fatal|not found|No such file", ln, re.I)]
    picked = errs[:limit] if errs else [ln for ln in lines if ln][:limit]
    return "\n    ".join(picked) if picked else "(no compiler output)"


@dataclass
class ExtensionBuild:
    """What torch.utils.cpp_extension.load needs for one extension."""

    name: str
    sources: Sequence[str]  # relative to csrc/
    out: Path
    cflags: Sequence[str] = ()
    ldflags: Sequence[str] = ()
    cuda_cflags: Sequence[str] | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # set during the build only


def compile_and_load(build: ExtensionBuild, *, verbose: bool = False) -> ModuleType:
    """Build (or find up to date) and import the extension; the compiler's exception is
    passed on unchanged (see :func:`build_failure`)."""
    src = csrc_dir()
    build.out.mkdir(parents=True, exist_ok=True)
    with build_guard(build.out, build.name):
        return _load_extension(build, src, verbose)


# torch's own build lock: a file that its builder deletes when done. A builder that was
# killed (Ctrl-C during the first compile) leaves it behind, and every later build waits
# on it forever with no word. Our guard is an flock, which the kernel releases when its
# holder dies, so a torch lock found while we hold the guard has no live owner.
TORCH_LOCK = "lock"
GUARD = ".splat2sim-build.flock"
QUIET_WAIT_S = 10.0  # loading a built extension holds the guard for seconds at most, even on a busy machine
# a library logger: without any logging set up, Python prints its warnings on stderr as
# they are (no source line), which is what a user at a terminal or reading a log needs
log = logging.getLogger("splat2sim.render")


def _try_flock(fcntl, handle, seconds: float) -> bool:
    """Take an exclusive flock within ``seconds``; False if still held by another."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


@contextlib.contextmanager
def build_guard(out: Path, name: str):
    """Hold the build folder's flock for one build: wait (saying so) while another live
    process builds there, then remove a stale torch lock left by a killed build."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: torch's own lock only
        yield
        return
    with open(out / GUARD, "a") as guard:
        if not _try_flock(fcntl, guard, QUIET_WAIT_S):  # longer than a load: a build
            log.warning("%s: another process is building in %s; waiting for it to finish", name, out)
            fcntl.flock(guard, fcntl.LOCK_EX)
        try:
            stale = out / TORCH_LOCK
            if stale.exists():
                log.warning("%s: removed a stale build lock %s (left by a build that was stopped); building again", name, stale)
                stale.unlink(missing_ok=True)
            yield
        finally:
            fcntl.flock(guard, fcntl.LOCK_UN)


def _load_extension(build: ExtensionBuild, src: Path, verbose: bool) -> ModuleType:
    from torch.utils import cpp_extension

    kwargs = {"extra_cuda_cflags": list(build.cuda_cflags)} if build.cuda_cflags is not None else {}
    saved = {key: os.environ.get(key) for key in build.env}
    os.environ.update(build.env)
    try:
        return cpp_extension.load(
            name=build.name,
            sources=[str(src / s) for s in build.sources],
            extra_include_paths=[str(src / "include"), str(src)],
            extra_cflags=list(build.cflags),
            extra_ldflags=list(build.ldflags),
            build_directory=str(build.out),
            verbose=verbose,
            **kwargs,
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def build_failure(what: str, exc: BaseException, where: str, hint_for: Callable[[str], str]) -> DependencyError:
    """The DependencyError for a failed build or load: ``what`` (e.g. "The native backend"),
    the exception type, ``where`` (folder and details) and the compiler's error lines."""
    text = str(exc)
    return DependencyError(
        f"{what} failed to build or load ({type(exc).__name__}) in {where}:\n    {summarize_build_error(text)}",
        hint=hint_for(text),
    )


def load_once(owner: ModuleType, load: Callable[[], ModuleType]) -> ModuleType:
    """``owner._module``, or the result of ``load()`` stored there. Under ``owner._lock``
    so that threads wait for one build; a DependencyError is stored in ``owner._error``
    and raised again on later calls (NotBuiltError excepted)."""
    with owner._lock:
        if owner._module is not None:
            return owner._module
        if owner._error is not None:
            raise owner._error
        try:
            owner._module = load()
        except NotBuiltError:
            raise
        except DependencyError as exc:
            owner._error = exc
            raise
        return owner._module
