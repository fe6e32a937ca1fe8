"""The layers hold: engine <- lab <- runtime <- app <- cli, and neither Textual nor Rich below the app.

The contracts are in pyproject.toml ([tool.importlinter]); `lint-imports` checks every import
statement against them, as .ci/run does. One check at run time stays beside it, because a module
imported by name (importlib) escapes a reading of the import statements: the training process must
start without the UI libraries.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ENV, ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")  # installed with the `dev` extra


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**ENV, "PYTHONPATH": str(cwd)},
    )


def test_the_import_contracts_hold():
    out = lint_imports(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 kept, 0 broken" in out.stdout, out.stdout


def test_an_arrow_pointing_up_breaks_them(tmp_path):
    """The contracts can fail: a copy of the package whose engine imports the app, and whose lab
    prints with Rich, breaks both (the copy comes first on the path)."""
    copy = tmp_path / "rnn_tui"
    shutil.copytree(ROOT / "rnn_tui", copy, ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "engine" / "config.py", "a", encoding="utf-8") as f:
        f.write("\nfrom rnn_tui.app import format  # noqa\n")
    with open(copy / "lab" / "metrics.py", "a", encoding="utf-8") as f:
        f.write("\nimport rich  # noqa\n")
    out = lint_imports(tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "0 kept, 2 broken" in out.stdout, out.stdout
    assert "rnn_tui.engine.config -> rnn_tui.app.format" in out.stdout
    assert "rnn_tui.lab.metrics -> rich" in out.stdout


def test_the_training_process_starts_without_the_ui_libraries():
    code = (
        "import sys, importlib, pkgutil\n"
        "import rnn_tui.runtime.training_child\n"  # the training process's own module first, then the rest
        "for pkg in ('rnn_tui.engine', 'rnn_tui.lab', 'rnn_tui.runtime'):\n"
        "    for m in pkgutil.walk_packages(importlib.import_module(pkg).__path__, pkg + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "ui = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'textual_serve'))\n"
        "print(ui or 'clean')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=ENV
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean"
