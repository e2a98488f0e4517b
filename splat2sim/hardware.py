"""What this machine can do, and the preset that fits it.

``build`` without ``--preset`` on a new workspace uses :func:`choose_preset`: the ``gpu``
preset where torch sees a CUDA device, the ``cpu`` preset everywhere else, because the
defaults alone are sized for a GPU (7-10x the splat work of ``cpu``) and would make a
laptop's first build take most of an hour. The choice and its reason are written to the
workspace's ``workspace.json`` (key ``preset``) and shown before the first stage.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from splat2sim.workspace import layout

#: The name that asks for the machine's preset explicitly (``--preset auto``).
AUTO_PRESET = "auto"
#: The name that asks for the built-in defaults and no preset (``--preset defaults``).
DEFAULTS_PRESET = "defaults"


@dataclass(frozen=True)
class PresetChoice:
    name: str  # a preset in splat2sim/assets/configs/presets
    chosen: str  # "auto" (by this machine) | "given" (by the user) | "stored" (kept from the workspace)
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def choose_preset() -> PresetChoice:
    """``gpu`` if torch sees a CUDA device, else ``cpu``; the reason names what was found."""
    import torch  # heavy: only when a build needs the choice

    cores = os.cpu_count() or 1
    if torch.cuda.is_available():
        return PresetChoice("gpu", "auto", f"torch sees a CUDA device ({torch.cuda.get_device_name(0)})")
    why = "torch is a CPU-only build" if torch.version.cuda is None else "torch sees no CUDA device"
    return PresetChoice("cpu", "auto", f"no GPU: {why}; {cores} CPU cores")


def resolve_preset(ws, preset: str | None) -> PresetChoice | None:
    """The preset a build of workspace ``ws`` (a Workspace, or None) starts from: the one
    given; the machine's (:func:`choose_preset`) for ``auto`` or for a new workspace given
    none; None to keep the workspace's stored config."""
    if preset == AUTO_PRESET or (preset is None and (ws is None or not (ws.root / layout.WORKSPACE_CONFIG).is_file())):
        return choose_preset()
    if preset is None:
        return None
    if preset == DEFAULTS_PRESET:
        return PresetChoice(preset, "given", "--preset defaults: the built-in defaults, no preset")
    return PresetChoice(preset, "given", "--preset")
