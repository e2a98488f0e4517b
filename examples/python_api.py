"""Build the bundled example from Python and print what each stage did.

.venv/bin/python examples/python_api.py [WORKSPACE]
"""

import sys
from pathlib import Path

from splat2sim import api
from splat2sim.ui import RichReporter

example = Path(__file__).parent / "tabletop" / "video.mp4"
workspace = Path(sys.argv[1] if len(sys.argv) > 1 else "workspaces/python-example")

result = api.build(example, workspace, preset="cpu", overrides=["frames.target_count=30"], reporter=RichReporter())
for outcome in result.outcomes:
    record = outcome.record
    print(f"{outcome.stage:10s} {outcome.action:8s} metrics={record.metrics if record else {}}")
for row in api.status(workspace):
    print(f"{row.stage:10s} {row.state:16s} {row.reason}")
