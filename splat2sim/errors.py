"""The error hierarchy. Library code raises these; only the CLI prints them and exits.

Every error carries a message that says what is wrong and a ``hint`` that says how to fix
it, and an exit code so that scripts can tell classes of failure apart.
"""

from __future__ import annotations

import functools


class Splat2SimError(Exception):
    """Base class of every error splat2sim raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, stage: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.stage = stage

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ConfigError(Splat2SimError):
    """A config file, preset or ``--set`` override is unreadable or invalid."""

    exit_code = 2


class InputError(Splat2SimError):
    """The user's input (video, image folder, model, file) is missing or unusable."""

    exit_code = 3


class WorkspaceError(Splat2SimError):
    """The workspace is missing, locked, or an upstream stage is not there."""

    exit_code = 4


class StageError(Splat2SimError):
    """A stage ran and could not produce a usable result (e.g. no parallax for poses)."""

    exit_code = 5


class UndeclaredUpstreamError(Splat2SimError):
    """A stage read a stage folder or cache it did not declare: a bug in that stage."""

    exit_code = 70


class ResourceError(Splat2SimError):
    """The machine refused a resource: the disk is full, a folder is read-only or not ours."""

    exit_code = 8


def resource_error(exc: OSError, doing: str) -> "ResourceError | None":
    """The ResourceError for an OSError that is a resource fault (no space, read-only file
    system, permission), naming the path and the fix; None for any other OSError."""
    import errno

    path = exc.filename or "the workspace"
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return ResourceError(
            f"the disk is full while {doing} ({path})", hint="free space on that disk, or build into a workspace on another disk (-o)"
        )
    if exc.errno == errno.EROFS:
        return ResourceError(f"{path} is on a read-only file system (while {doing})", hint="build into a writable folder with -o")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ResourceError(f"permission denied on {path} (while {doing})", hint="build into a folder you can write, or fix its permissions")
    return None


def translate_resource_faults(doing: str):
    """Decorator: OSErrors that are resource faults (disk full, read-only, permission) leave
    as a ResourceError naming the path and the fix; other errors pass unchanged."""

    def wrap(fn):
        @functools.wraps(fn)
        def translated(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except OSError as exc:
                error = resource_error(exc, doing)
                if error is None:
                    raise
                raise error from exc

        return translated

    return wrap


class DependencyError(Splat2SimError):
    """An optional dependency or backend is not installed or cannot load."""

    exit_code = 6


def missing_package(package: str, purpose: str, extra: str = "full") -> DependencyError:
    """The error raised when an optional import fails: it names the package to install."""
    return DependencyError(
        f"{purpose} needs the Python package '{package}', which is not installed.",
        hint=f"pip install '{package}' (or: pip install 'splat2sim[{extra}]' -c requirements/constraints.txt)",
    )
