"""SDFormat exporter (Gazebo / Drake): ``scene.sdf``, one world with the static support
surface and one model per object (a link with its inertial about the centre of mass, a
visual mesh, a collision per convex hull with friction and restitution).

``validate_sdf(path)`` parses the file with libsdformat (the reference parser, Debian
``libsdformat-dev``) through a tiny C++ checker compiled on first use and cached; where the
library is not installed it says so and only checks well-formedness.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from splat2sim.scene.common import attr, fmt, relpath
from splat2sim.scene.schema import SceneData

SDF_VERSION = "1.9"
SUPPORT_THICKNESS = 0.04


def _pose(position, quaternion=(1.0, 0.0, 0.0, 0.0)) -> str:
    from scipy.spatial.transform import Rotation

    w, x, y, z = quaternion
    rpy = Rotation.from_quat([x, y, z, w]).as_euler("xyz")
    return fmt([*position, *rpy])


def sdf_document(scene: SceneData, out_dir: Path) -> str:
    rel = lambda p: relpath(scene.asset(p), out_dir)  # noqa: E731
    plane = scene.environment["support_plane"]
    sx, sy = plane["size"]
    cx, cy = plane.get("center", [0.0, 0.0, 0.0])[:2]
    mu = fmt(plane.get("friction", 0.8))
    L = [
        '<?xml version="1.0"?>',
        f'<sdf version="{SDF_VERSION}">',
        f"  <world name={attr(scene.name)}>",
        f"    <gravity>{fmt(scene.gravity)}</gravity>",
        '    <physics name="default" type="ode"><max_step_size>0.001</max_step_size><real_time_factor>1</real_time_factor></physics>',
    ]
    for i, li in enumerate(
        scene.environment.get("lights") or [{"pos": [0, 0, 2], "dir": [0, 0, -1], "diffuse": [0.8, 0.8, 0.8], "castshadow": True}]
    ):
        L += [
            f'    <light name="light_{i}" type="directional">',
            f"      <pose>{fmt([*li['pos'], 0, 0, 0])}</pose>",
            f"      <diffuse>{fmt([*li['diffuse'], 1])}</diffuse>",
            f"      <direction>{fmt(li['dir'])}</direction>",
            f"      <cast_shadows>{'true' if li.get('castshadow') else 'false'}</cast_shadows>",
            "    </light>",
        ]
    box = f"<box><size>{fmt([sx, sy, SUPPORT_THICKNESS])}</size></box>"
    L += [
        '    <model name="support">',
        "      <static>true</static>",
        f"      <pose>{fmt([cx, cy, -SUPPORT_THICKNESS / 2, 0, 0, float(plane.get('yaw', 0.0))])}</pose>",
        '      <link name="support">',
        f'        <collision name="collision"><geometry>{box}</geometry>'
        f"<surface><friction><ode><mu>{mu}</mu><mu2>{mu}</mu2></ode></friction></surface></collision>",
        f'        <visual name="visual"><geometry>{box}</geometry><material><diffuse>0.55 0.45 0.35 1</diffuse></material></visual>',
        "      </link>",
        "    </model>",
    ]
    for b in scene.bodies:
        I = np.asarray(b.inertial["inertia"], np.float64)
        c = b.contact
        s = fmt([b.scale] * 3)
        rgba = (b.appearance or {}).get("rgba") or [0.8, 0.8, 0.8, 1.0]
        L += [
            f"    <model name={attr(b.name)}>",
            f"      <pose>{_pose(b.position, b.quaternion)}</pose>",
            f"      <link name={attr(b.name)}>",
            "        <inertial>",
            f"          <pose>{fmt([*b.inertial['center_of_mass'], 0, 0, 0])}</pose>",
            f"          <mass>{fmt(b.inertial['mass'])}</mass>",
            f"          <inertia><ixx>{fmt(I[0, 0])}</ixx><ixy>{fmt(I[0, 1])}</ixy><ixz>{fmt(I[0, 2])}</ixz>"
            f"<iyy>{fmt(I[1, 1])}</iyy><iyz>{fmt(I[1, 2])}</iyz><izz>{fmt(I[2, 2])}</izz></inertia>",
            "        </inertial>",
        ]
        if b.visual:
            L.append(
                f'        <visual name="visual"><geometry><mesh><uri>{rel(b.visual)}</uri><scale>{s}</scale></mesh></geometry>'
                f"<material><diffuse>{fmt(rgba)}</diffuse></material></visual>"
            )
        for k, hull in enumerate(b.collision):
            friction = fmt(c.get("friction", 0.5))
            L.append(
                f'        <collision name="hull_{k:03d}"><geometry><mesh><uri>{rel(hull)}</uri><scale>{s}</scale></mesh></geometry>'
                f"<surface><friction><ode><mu>{friction}</mu><mu2>{friction}</mu2></ode>"
                f"<bullet><friction>{friction}</friction><rolling_friction>{fmt(c.get('rolling_friction', 0.0))}</rolling_friction></bullet></friction>"
                f"<bounce><restitution_coefficient>{fmt(c.get('restitution', 0.0))}</restitution_coefficient></bounce></surface></collision>"
            )
        L += ["      </link>", "    </model>"]
    L += ["  </world>", "</sdf>", ""]
    return "\n".join(L)


def write_sdf(scene: SceneData, out_dir) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "scene.sdf"
    path.write_text(sdf_document(scene, out_dir))
    return path


_CHECKER = r"""
#include <sdf/sdf.hh>
#include <iostream>
int main(int argc, char** argv) {
  sdf::Root root;
  sdf::Errors errors = root.Load(argv[1]);
  for (auto &e : errors) std::cout << "ERROR " << e.Message() << std::endl;
  if (errors.empty()) {
    const sdf::World* w = root.WorldCount() ? root.WorldByIndex(0) : nullptr;
    std::cout << "OK worlds=" << root.WorldCount() << " models=" << (w ? w->ModelCount() : 0) << std::endl;
  }
  return errors.empty() ? 0 : 1;
}
"""


def _sdformat_include() -> tuple[str, str] | None:
    """(include dir, library name) of an installed libsdformat, or None."""
    for base in ("/usr/include", "/usr/local/include"):
        if not os.path.isdir(base):
            continue
        for name in sorted(os.listdir(base), reverse=True):
            if name.startswith("sdformat-") and os.path.isfile(os.path.join(base, name, "sdf", "sdf.hh")):
                major = name.split("-")[1].split(".")[0]
                return os.path.join(base, name), f"sdformat{major}"
    return None


def sdformat_checker() -> tuple[Path | None, str]:
    """The compiled checker (cached under ~/.cache/splat2sim) and a description, or (None, why)."""
    found = _sdformat_include()
    if found is None:
        return None, "libsdformat is not installed (Debian: apt-get install libsdformat-dev)"
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        return None, "no C++ compiler to build the libsdformat checker"
    include, lib = found
    cache = Path(os.environ.get("SPLAT2SIM_CACHE", Path.home() / ".cache" / "splat2sim")) / "sdfcheck"
    exe = cache / f"check_{lib}"
    if not exe.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        src = cache / "check.cc"
        src.write_text(_CHECKER)
        tmp = cache / f"check_{lib}.{os.getpid()}"
        flags = [f"-I{include}", f"-l{lib}"]
        if shutil.which("pkg-config"):
            pc = subprocess.run(["pkg-config", "--cflags", "--libs", lib], capture_output=True, text=True)
            if pc.returncode == 0 and pc.stdout.strip():
                flags = pc.stdout.split()
        done = subprocess.run([compiler, "-std=c++17", str(src), *flags, "-o", str(tmp)], capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            return None, f"building the libsdformat checker failed: {done.stderr.strip()[-300:]}"
        tmp.replace(exe)
    return exe, f"lib{lib} ({include})"


def validate_sdf(path) -> dict:
    """{"parser": ..., "ok": True/False/None, "errors": [...], "output": str}."""
    import xml.etree.ElementTree as ET

    path = Path(path)
    try:
        ET.parse(path)
    except ET.ParseError as exc:
        return {"parser": "xml.etree", "ok": False, "errors": [f"not well-formed XML: {exc}"], "output": ""}
    exe, how = sdformat_checker()
    if exe is None:
        return {"parser": None, "ok": None, "errors": [], "output": "", "note": how + "; only XML well-formedness was checked"}
    done = subprocess.run([str(exe), str(path)], capture_output=True, text=True, timeout=120, cwd=path.parent)
    errors = [line[6:] for line in done.stdout.splitlines() if line.startswith("ERROR ")]
    return {"parser": how, "ok": done.returncode == 0 and not errors, "errors": errors, "output": done.stdout.strip()[-2000:]}
