"""The Textual playground. `run_app` is what `rnn-tui` (no command) calls.

Importing this package is cheap (the CLI builds its parser from `rnn_tui.cli.serve`): Textual and
the app load on first use of `RnnTuiApp` or `run_app`.
"""

from __future__ import annotations

import os

# 120 frames a second at most (Textual's default is 60): a keystroke's chart then waits at most
# ~8 ms for the next frame. Read when Textual is first imported; the user's own setting wins.
os.environ.setdefault("TEXTUAL_FPS", "120")


def run_app(
    corpus,
    model_config,
    train_config,
    checkpoint=None,
    preset: str | None = None,
    *,
    demo: bool = False,
    public=None,
    workers: int | None = None,
) -> int:
    """Run the app until the user quits; returns the exit code."""
    from rnn_tui.app.app import RnnTuiApp

    app = RnnTuiApp(
        corpus,
        model_config,
        train_config,
        checkpoint=checkpoint,
        preset=preset,
        demo=demo,
        public=public,
        workers=workers,
    )
    result = app.run()
    return result if isinstance(result, int) else (app.return_code or 0)


def __getattr__(name: str):
    if name == "RnnTuiApp":
        from rnn_tui.app.app import RnnTuiApp

        return RnnTuiApp
    raise AttributeError(f"module 'rnn_tui.app' has no attribute {name!r}")


__all__ = ["RnnTuiApp", "run_app"]
