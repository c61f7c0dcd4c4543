"""The import contracts (pyproject.toml, [tool.importlinter]): engines stand alone, no cycles in app.

`lint-imports` checks them from the source; the second test proves the first contract at run time: a
process where the web app cannot be imported renders an animatic take from a spec.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "0 broken" in report and "KEPT" in report, report


def test_a_worker_renders_a_spec_without_the_web_app() -> None:
    script = textwrap.dedent("""
        import sys

        sys.modules["app"] = None  # `import app...` raises ImportError from here on
        from workers.engines.loader import get_engine
        from workers.spec import RenderSpec
        from workers.vocabulary import Camera, Move

        camera = Camera(move=Move.dolly_in).to_dict()
        spec = RenderSpec(model="animatic", prompt="a lighthouse at night", width=64, height=36, frames=3,
                          fps=12.0, seeds=[1], camera=camera, lighting={"key": "low_key"})
        (take,) = get_engine("animatic").render(spec)
        assert take.shape == (3, 36, 64, 3), take.shape
        assert not [m for m, mod in sys.modules.items() if m.split(".")[0] == "app" and mod is not None]
        print("rendered")
    """)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=env)  # fmt: skip
    assert done.returncode == 0 and "rendered" in done.stdout, done.stdout + done.stderr
