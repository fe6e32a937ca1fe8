"""`rnn-tui series`: train a sequence-regression lesson headless and print its predictions and forecast.

Imports nothing heavy at module level (the CLI loads every subcommand module at start-up).
"""

from __future__ import annotations

import argparse
import json

OPTION_NAMES = (
    "cell",
    "hidden",
    "layers",
    "epochs",
    "lr",
    "loss",
    "seed",
)  # SeriesConfig's, from the registry
SHOWN_POINTS = 20  # the text output lists at most this many (input, prediction, target) rows


def register(subparsers) -> None:
    from rnn_tui.cli.options import add_option
    from rnn_tui.engine.options import OPTIONS

    p = subparsers.add_parser(
        "series",
        help="sequence regression: a small RNN learns a numeric series (ramp, sine)",
        description=(
            "Train a regression lesson headless: 'ramp' is the tutorial's PyTorch example "
            "(0.1 .. 0.6 -> 0.2 .. 0.7), 'sine' a noisy sine wave. Prints the final MSE, each "
            "prediction next to its target, and a forecast past the end of the data."
        ),
    )
    p.add_argument("--lesson", default="ramp", help="ramp or sine (default ramp)")
    for name in OPTION_NAMES + ("forecast",):  # a choice is left to the registry's check
        add_option(p, OPTIONS[name], choices=False)
    add_option(p, OPTIONS["workers"])
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=cmd_series)


def _row(x: float, y: float, target: float) -> str:
    return f"{x:7.3f} -> {y:7.4f}   target {target:7.3f}   error {y - target:+.1e}"


def cmd_series(args: argparse.Namespace) -> int:
    import threading

    from rnn_tui.cli.common import make_console, progress_bar, workers
    from rnn_tui.cli.options import given
    from rnn_tui.engine.control import RunState
    from rnn_tui.engine.series_trainer import SeriesTrainer
    from rnn_tui.lab.series_lessons import get_lesson

    overrides = given(args, OPTION_NAMES)  # ConfigError naming the option and its range
    steps = given(args, ("forecast",)).get("forecast")
    lesson = get_lesson(args.lesson)
    config = lesson.config.with_(**overrides)
    if steps is None:
        steps = lesson.forecast_steps

    windows = len(lesson.series) - lesson.window  # the batch: most lessons are too small to share
    trainer = SeriesTrainer(lesson, config, workers=workers(args, config, windows, lesson.window))
    console = make_console(stderr=True)
    show = not args.json and console.is_terminal
    stop = threading.Event()
    with progress_bar(console, show) as bar:
        task = bar.add_task(lesson.name, total=config.epochs, info="")

        def on_progress(p) -> None:
            bar.update(
                task, completed=p.epoch, info=f"epoch {p.epoch}  loss {p.loss:.3g}  MSE {p.mse:.3g}"
            )

        try:
            final = trainer.run(stop, on_progress, interval=0.25, forecast_steps=steps)
        except KeyboardInterrupt:
            stop.set()
            final = trainer.progress(RunState.STOPPED, forecast_steps=steps)
            console.print("interrupted: showing what was learnt so far")
        finally:
            trainer.close()

    truth = final.continuation
    forecast_mse = None
    if truth is not None and len(truth):
        forecast_mse = float(((final.forecast - truth) ** 2).mean())
    result = {
        "lesson": lesson.name,
        "description": lesson.description,
        "config": config.to_dict(),
        "epochs": final.epoch,
        "seconds": final.elapsed,
        "loss": final.loss,
        "mse": final.mse,
        "goal_mse": lesson.goal_mse,
        "goal_reached": final.mse < lesson.goal_mse,
        "mse_history": list(final.mse_history),
        "points": [
            {"input": float(x), "target": float(t), "prediction": float(y)}
            for x, t, y in zip(final.inputs, final.targets, final.predictions, strict=True)
        ],
        "forecast": [float(v) for v in final.forecast],
        "continuation": None if truth is None else [float(v) for v in truth],
        "forecast_mse": forecast_mse,
        "skipped_epochs": final.skipped_epochs,
        "message": final.message,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0

    goal = "reached" if result["goal_reached"] else "not reached"
    print(f"lesson {lesson.name}: {lesson.description}")
    print(f"model: {config.describe()}, seed {config.seed}")
    print(
        f"{final.epoch} epochs in {final.elapsed:.2f} s: final MSE {final.mse:.3g} "
        f"(goal below {lesson.goal_mse:g}: {goal}); training loss {final.loss:.3g}"
    )
    if final.message:
        print(final.message)
    rows = list(zip(final.inputs, final.predictions, final.targets, strict=True))
    if len(rows) > SHOWN_POINTS:
        print(
            f"input -> prediction of the next value (last {SHOWN_POINTS} of {len(rows)}; --json for all)"
        )
        rows = rows[-SHOWN_POINTS:]
    else:
        print("input -> prediction of the next value")
    for x, y, t in rows:
        print(_row(x, y, t))
    if steps:
        values = " ".join(f"{v:.3f}" for v in final.forecast)
        print(f"forecast of the next {steps} (own predictions fed back): {values}")
        if forecast_mse is not None:
            print(f"forecast MSE against the true continuation: {forecast_mse:.3g}")
    return 0
