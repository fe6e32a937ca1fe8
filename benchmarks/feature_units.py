"""Which hidden unit of a trained network best tracks each simple feature of the text (inside
quotes, inside brackets, position in the line, after a space), and how well (Pearson r).

    python benchmarks/feature_units.py MODEL.npz [--chars 5000] [--screenshot FILE.svg] [--json FILE]

The units' states come from `hidden_trace` over the start of the held-out text of the
checkpoint's corpus (never trained on); the ranking is `lab.neurons.rank_units`, the same as the
neurons screen's `f`. Both h and, for an LSTM, c are ranked. With --screenshot the app is
started on the checkpoint (paused), the neurons screen opened, the feature with the best unit
chosen and found, and the 80x24 screen saved as SVG. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def rank_features(ckpt, corpus, chars: int) -> list[dict]:
    from rnn_tui.engine.model import ParamSnapshot
    from rnn_tui.engine.predict import hidden_trace
    from rnn_tui.lab.evaluate import held_out_text
    from rnn_tui.lab.neurons import FEATURES, rank_units

    val_fraction = ckpt.train_config.val_fraction if ckpt.train_config else 0.1
    text = held_out_text(corpus, val_fraction, chars)
    snap = ParamSnapshot.of(ckpt.model_config, ckpt.vocab, ckpt.params, ckpt.step)
    trace = hidden_trace(snap, text)
    states = {"h": trace.h} | ({"c": trace.c} if trace.c is not None else {})
    rows = []
    for name, feature in FEATURES.items():
        values = feature(trace.text)
        for state, acts in states.items():
            ranking = rank_units(acts, values)
            if ranking:
                best = ranking[0]
                rows.append(
                    {
                        "feature": name,
                        "state": state,
                        "unit": best.unit,
                        "r": best.correlation,
                        "share": float(values.mean()) if name != "position in line" else None,
                    }
                )
    return rows


async def screenshot(path: str, ckpt, corpus, feature: str, use_cell: bool) -> None:
    from rnn_tui.app import RnnTuiApp
    from rnn_tui.lab.neurons import FEATURES

    app = RnnTuiApp(
        corpus, ckpt.model_config, ckpt.train_config, ckpt, start_paused=True, baseline=False
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape", "u")
        if use_cell:
            await pilot.press("c")
        await pilot.press(*["e"] * list(FEATURES).index(feature), "f")
        await pilot.pause()
        app.save_screenshot(os.path.basename(path), os.path.dirname(os.path.abspath(path)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--chars", type=int, default=5000)
    parser.add_argument("--screenshot", metavar="FILE.svg")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    from rnn_tui.engine.checkpoint import load_checkpoint
    from rnn_tui.engine.corpus import load_corpus

    ckpt = load_checkpoint(args.checkpoint)
    corpus = load_corpus(ckpt.corpus)
    rows = rank_features(ckpt, corpus, args.chars)
    print(
        f"{ckpt.model_config.describe()}, step {ckpt.step}, corpus {corpus.name}, "
        f"first {args.chars} held-out characters"
    )
    for row in rows:
        share = "" if row["share"] is None else f"  (true on {row['share']:.0%} of characters)"
        print(
            f"  {row['feature']:17} {row['state']}: unit {row['unit']:4}  r {row['r']:+.2f}{share}"
        )
    if args.screenshot:
        quoting = [r for r in rows if r["feature"] in ("inside quotes", "inside brackets")]
        best = max(quoting, key=lambda r: abs(r["r"]))
        asyncio.run(
            screenshot(args.screenshot, ckpt, corpus, best["feature"], best["state"] == "c")
        )
        print(f"screenshot of {best['feature']} ({best['state']}) in {args.screenshot}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
