"""The Textual playground. `run_app` is what `rnn-tui` (no command) calls."""

from __future__ import annotations

from rnn_tui.app.app import RnnTuiApp
from rnn_tui.checkpoint import Checkpoint
from rnn_tui.config import ModelConfig, TrainConfig
from rnn_tui.corpus import Corpus


def run_app(
    corpus: Corpus,
    model_config: ModelConfig,
    train_config: TrainConfig,
    checkpoint: Checkpoint | None = None,
    preset: str | None = None,
) -> int:
    """Run the app until the user quits; returns the exit code."""
    app = RnnTuiApp(corpus, model_config, train_config, checkpoint=checkpoint, preset=preset)
    result = app.run()
    return result if isinstance(result, int) else (app.return_code or 0)


__all__ = ["RnnTuiApp", "run_app"]
