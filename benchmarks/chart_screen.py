"""How often the loss chart repaints while training, and what a repaint costs.

    python benchmarks/chart_screen.py [--seconds 20] [--preset zen] [--json FILE]

The app runs under Textual's headless driver at 80x24, training (its training process is the
app's own), with the chart screen open. Over `--seconds` it counts the chart's builds of its
lines (`LossChart.render_count`) and times each build (wall and this process's CPU time, by
wrapping `build_lines`). The chart looks for new progress every POLL seconds and redraws when there
is some: about 4 repaints a second is the most it does. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


async def measure(preset_name: str, seconds: float) -> dict:
    from rnn_tui.app import RnnTuiApp
    from rnn_tui.app.screens.chart import ChartScreen, LossChart
    from rnn_tui.engine.corpus import load_corpus
    from rnn_tui.lab.presets import get_preset, preset_configs

    preset = get_preset(preset_name)
    corpus = load_corpus(preset.corpus)
    model, train = preset_configs(preset, len(corpus.vocab))
    app = RnnTuiApp(corpus, model, train, preset=preset_name)
    builds: list[tuple[float, float]] = []
    async with app.run_test(size=(80, 24)) as pilot:
        end = time.monotonic() + 60
        while (app.progress is None or app.progress.step < 20) and time.monotonic() < end:
            await pilot.pause(0.1)
        await pilot.press("escape", "c")
        while not isinstance(app.screen, ChartScreen) or not app.screen.query(LossChart):
            await pilot.pause(0.01)
        chart = app.screen.query_one(LossChart)
        inner = chart.build_lines

        def timed(width: int, height: int):
            t0, c0 = time.perf_counter(), time.process_time()
            lines = inner(width, height)
            builds.append(((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000))
            return lines

        chart.build_lines = timed
        start_count, start_step, t0 = chart.render_count, app.progress.step, time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - t0
        repaints, steps = chart.render_count - start_count, app.progress.step - start_step
    wall = [b[0] for b in builds] or [0.0]
    cpu = [b[1] for b in builds] or [0.0]
    return {
        "preset": preset_name,
        "seconds": elapsed,
        "repaints_per_second": repaints / elapsed,
        "training_steps": steps,
        "build_ms": {"median": statistics.median(wall), "max": max(wall)},
        "build_cpu_ms": {"median": statistics.median(cpu), "max": max(cpu)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--preset", default="zen")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    r = asyncio.run(measure(args.preset, args.seconds))
    r["load_average"] = load
    print(
        f"{r['preset']}, {r['seconds']:.1f} s at load {load:.1f}: {r['repaints_per_second']:.2f} repaints/s "
        f"({r['training_steps']} training steps meanwhile); a repaint's build: median "
        f"{r['build_ms']['median']:.1f} ms wall, {r['build_cpu_ms']['median']:.1f} ms CPU "
        f"(max {r['build_ms']['max']:.1f} ms wall)"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
