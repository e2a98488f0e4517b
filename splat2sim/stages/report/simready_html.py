"""The report's SimReady section: NVIDIA's validator verdict per prop (check.json ``simready``)."""

from __future__ import annotations

import html


def simready_section(check: dict) -> str:
    sr = check.get("simready")
    if not sr:
        return ""
    if not sr.get("ran"):
        return f"<h2>SimReady validation</h2><p>not run: {html.escape(str(sr.get('why')))}</p>"
    rows = []
    for name, a in sr.get("assets", {}).items():
        known = "".join(f"<li><code>{html.escape(f)}</code>: {html.escape(why)}</li>" for f, why in a.get("known", {}).items())
        bad = ", ".join(a.get("unexpected", [])) or "none"
        rows.append(
            f"<tr><td><code>{html.escape(a.get('path', name))}</code></td><td>{len(a['passed'])} / {len(a['features'])}</td>"
            f"<td>{html.escape(bad)}</td><td><ul>{known}</ul></td></tr>"
        )
    return (
        f"<h2>SimReady validation ({html.escape(str(sr.get('profile')))}, per object)</h2>"
        "<table><tr><th>prop</th><th>features passed</th><th>unexpected failures</th><th>known failures (a scan cannot meet them)</th></tr>"
        + "".join(rows)
        + "</table>"
    )
