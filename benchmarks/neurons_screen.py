"""How fast the neurons screen opens on 300 characters, and how fast it moves to the next unit.

    python benchmarks/neurons_screen.py [--runs 20] [--preset stdlib] [--json FILE]

The app runs under Textual's headless driver at 80x24, paused (no training competes in this
process; its training process waits). "Open" is from the command (`action_neurons`) to the end of
the text view's first build of its lines (`NeuronText.last_render`, stamped inside its render):
the network run over the text (`hidden_trace`), the feature-free heading and the coloured lines.
"Next unit" is from the key's action to the next build. The model is the preset's, with its
initial weights: the work does not depend on what the weights are. Medians and p95 over
`--runs`, in wall time and in this process's CPU time over the same span (on a shared machine
the wall time includes waiting for a core; the CPU time is about what an idle one would show).
The load average is printed beside them. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def p95(values: list[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]


async def measure(preset_name: str, runs: int) -> dict:
    from rnn_tui.app import RnnTuiApp
    from rnn_tui.app.screens.neurons import NeuronsScreen, NeuronText
    from rnn_tui.engine.corpus import load_corpus
    from rnn_tui.lab.presets import get_preset, preset_configs

    preset = get_preset(preset_name)
    corpus = load_corpus(preset.corpus)
    model, train = preset_configs(preset, len(corpus.vocab))
    app = RnnTuiApp(corpus, model, train, start_paused=True, baseline=False)
    opens, nexts, opens_cpu, nexts_cpu, chars = [], [], [], [], 0
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape")
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            app.action_neurons()
            while not (
                isinstance(app.screen, NeuronsScreen)
                and app.screen.query(NeuronText)
                and app.screen.query_one(NeuronText).last_render >= t0
            ):
                await asyncio.sleep(0.001)
            screen = app.screen
            view = screen.query_one(NeuronText)
            opens.append((view.last_render - t0) * 1000)
            opens_cpu.append((view.last_render_cpu - c0) * 1000)
            chars = len(view.text)
            for _ in range(3):
                t0, c0 = time.perf_counter(), time.process_time()
                screen.action_unit(1)
                while view.last_render < t0:
                    await asyncio.sleep(0.001)
                nexts.append((view.last_render - t0) * 1000)
                nexts_cpu.append((view.last_render_cpu - c0) * 1000)
            screen.action_close()
            await pilot.pause()
    return {
        "preset": preset_name,
        "model": model.describe(),
        "chars": chars,
        "runs": runs,
        "open_ms": {"median": statistics.median(opens), "p95": p95(opens)},
        "next_unit_ms": {"median": statistics.median(nexts), "p95": p95(nexts)},
        "open_cpu_ms": {"median": statistics.median(opens_cpu), "p95": p95(opens_cpu)},
        "next_unit_cpu_ms": {"median": statistics.median(nexts_cpu), "p95": p95(nexts_cpu)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--preset", default="stdlib")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    r = asyncio.run(measure(args.preset, args.runs))
    r["load_average"] = load
    print(
        f"{r['preset']} ({r['model']}), {r['chars']} characters, {r['runs']} runs, load {load:.1f}: "
        f"open median {r['open_ms']['median']:.1f} ms (p95 {r['open_ms']['p95']:.1f}), "
        f"next unit median {r['next_unit_ms']['median']:.1f} ms (p95 {r['next_unit_ms']['p95']:.1f}); "
        f"CPU: open median {r['open_cpu_ms']['median']:.1f} ms, next unit {r['next_unit_cpu_ms']['median']:.1f} ms"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
