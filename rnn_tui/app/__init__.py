"""The Textual playground. `run_app` is what `rnn-tui` (no command) calls."""

from __future__ import annotations

import os

# 120 frames a second at most (Textual's default is 60): a keystroke's chart then waits at most
# ~8 ms for the next frame. Read when Textual is first imported; the user's own setting wins.
os.environ.setdefault("TEXTUAL_FPS", "120")

from rnn_tui.app.app import RnnTuiApp  # noqa: E402
from rnn_tui.checkpoint import Checkpoint  # noqa: E402
from rnn_tui.config import ModelConfig, TrainConfig  # noqa: E402
from rnn_tui.corpus import Corpus  # noqa: E402


def run_app(
    corpus: Corpus,
    model_config: ModelConfig,
    train_config: TrainConfig,
    checkpoint: Checkpoint | None = None,
    preset: str | None = None,
    *,
    demo: bool = False,
) -> int:
    """Run the app until the user quits; returns the exit code."""
    app = RnnTuiApp(corpus, model_config, train_config, checkpoint=checkpoint, preset=preset, demo=demo)
    result = app.run()
    return result if isinstance(result, int) else (app.return_code or 0)


__all__ = ["RnnTuiApp", "run_app"]
