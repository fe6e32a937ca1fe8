"""What the test files share: tiny models and trainers, the app at 80x24, the command line in a
subprocess, and waiting for a condition with a generous timeout (never a fixed sleep: the machine
may be busy, and a test must neither fail nor pass because of it).

Tests never read or write the user's cache directory: the whole run (and every subprocess it
starts, whose environment is copied at import time) gets a temporary one, each test its own.

Test modules import these names from `conftest` (pytest puts this directory on sys.path first).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.corpus import Corpus, load_corpus
from rnn_tui.engine.trainer import Trainer

if TYPE_CHECKING:
    from rnn_tui.app import RnnTuiApp

_RUN_CACHE = tempfile.mkdtemp(prefix="rnn-tui-test-cache-")
os.environ["XDG_CACHE_HOME"] = _RUN_CACHE  # (before ENV below copies the environment)
atexit.register(shutil.rmtree, _RUN_CACHE, True)


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


ROOT = Path(__file__).resolve().parents[1]
SIZE = (80, 24)  # the terminal every pilot test runs in
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}  # a command's process: one BLAS thread


# -- waiting -----------------------------------------------------------------------------------
def wait_for(
    condition: Callable[[], object], timeout: float = 30.0, what: str = "condition"
) -> None:
    """Poll `condition` (from a plain test: the work happens on other threads or processes)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.01)


async def until(
    pilot, condition: Callable[[], object], timeout: float = 30.0, what: str = "condition"
) -> None:
    """Poll `condition` from a pilot test, letting the app run between looks."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(0.02)


# -- models, trainers, the app -------------------------------------------------------------------
def tiny_configs(
    corpus: Corpus, cell: str = "rnn", hidden: int = 16, **train
) -> tuple[ModelConfig, TrainConfig]:
    """A model small enough to train in milliseconds: BPTT 8, batch 4 unless `train` says otherwise."""
    return ModelConfig(len(corpus.vocab), cell=cell, hidden=hidden), TrainConfig(
        **{"seq_len": 8, "batch": 4, **train}
    )


def tiny_trainer(cell: str = "rnn", corpus: str = "zen", hidden: int = 16, **train) -> Trainer:
    c = load_corpus(corpus)
    return Trainer(c, *tiny_configs(c, cell, hidden, **train))


def make_app(
    paused: bool = True,
    corpus: str = "zen",
    cell: str = "rnn",
    hidden: int = 16,
    *,
    seq_len: int = 8,
    batch: int = 4,
    lr: float = 0.01,
    seed: int = 0,
    **kw,
) -> RnnTuiApp:
    """The playground on a tiny model, paused unless asked (the tests step it themselves)."""
    from rnn_tui.app import RnnTuiApp

    c = load_corpus(corpus)
    model, train = tiny_configs(c, cell, hidden, seq_len=seq_len, batch=batch, lr=lr, seed=seed)
    return RnnTuiApp(c, model, train, start_paused=paused, **kw)


async def type_text(pilot, text: str) -> None:
    await pilot.press(*[{" ": "space"}.get(ch, ch) for ch in text])


# -- the command line --------------------------------------------------------------------------
def rnn_tui(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m rnn_tui ARGS` in a process of its own; its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "rnn_tui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
    )


def assert_user_error(out: subprocess.CompletedProcess, *words: str) -> None:
    """Bad input's answer: exit 2 and one `error:` line naming `words`, never a traceback."""
    assert out.returncode == 2, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert "Traceback" not in out.stderr
    for w in words:
        assert w in lines[0], lines[0]


# -- training replicas (engine/parallel.py) -------------------------------------------------------
def mapped_memfds() -> int:
    """How many mappings of the replicas' shared memory this process holds."""
    with open("/proc/self/maps") as f:
        return sum("rnn-tui-replicas" in line for line in f)


def replica_pids() -> set[int]:
    """Every live replica process on the machine (by its command line)."""
    return live_pids(b"rnn_tui.engine.parallel_worker")


def live_pids(module: bytes) -> set[int]:
    """Every live (not zombie) process on the machine whose command line names `module`."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if module in cmd and state != "Z":
            pids.add(int(entry))
    return pids
