"""What a new user's own sentence gets after the first minute: top-1 accuracy on ordinary English
sentences that are not in the corpus, for candidate default set-ups (corpus, cell, size).

    python benchmarks/first_minute.py [--cpu-seconds 60] [--candidates stdlib-gru192,zen] [--json FILE]

Each candidate trains in this process, as the app's training process does (no budget, so no
learning-rate annealing), for `--cpu-seconds` of this process's CPU time rather than wall time:
the machine may be shared, and CPU time on one BLAS thread is about what an idle machine's wall
clock would show. The step count reached is printed beside the result. Then every sentence is
scored from a fresh state: the fraction of its characters that were the network's first guess.
Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Ordinary sentences a new user might type; checked below not to occur in the corpus.
SENTENCES = (
    "I walked the dog to the park before breakfast this morning.",
    "My sister is coming to visit us next weekend with her children.",
    "The train was late again, so we missed the start of the film.",
    "Could you please send me the report by the end of the day?",
    "We are going to have pasta for dinner tonight.",
    "It rained all afternoon, and the garden is full of puddles.",
)

# name: (preset whose training settings it starts from, model overrides, train overrides)
CANDIDATES = {
    "zen-lstm128": ("zen", {}, {}),
    "stdlib-gru192": ("stdlib", {}, {}),
    "stdlib-gru128": ("stdlib", {"hidden": 128}, {}),
    "stdlib-lstm128": ("stdlib", {"cell": "lstm", "hidden": 128}, {"lr": 3e-3}),
    "stdlib-gru128-s32b32": ("stdlib", {"hidden": 128}, {"seq_len": 32, "batch": 32}),
    "stdlib-rnn256": ("stdlib", {"cell": "rnn", "hidden": 256}, {"lr": 2e-3}),
    "stdlib-gru256": ("stdlib", {"hidden": 256}, {}),
    "stdlib-gru192-lr1e-2": ("stdlib", {}, {"lr": 1e-2}),
    "stdlib-gru192-s32": ("stdlib", {}, {"seq_len": 32}),
}


def measure(name: str, cpu_seconds: float) -> dict:
    from rnn_tui.engine.corpus import load_corpus
    from rnn_tui.engine.predict import Predictor
    from rnn_tui.lab.metrics import top_k_accuracy
    from rnn_tui.lab.presets import get_preset, preset_configs
    from rnn_tui.runtime import jobs

    preset_name, model, train = CANDIDATES[name]
    preset = get_preset(preset_name)
    corpus = load_corpus(preset.corpus)
    model_config, train_config = preset_configs(preset, len(corpus.vocab), model, train)
    trainer = jobs.make_trainer(corpus, model_config, train_config, None, preset_name)
    start_cpu, start_wall = time.process_time(), time.perf_counter()
    while time.process_time() - start_cpu < cpu_seconds:
        trainer.train_step()
    wall = time.perf_counter() - start_wall
    predictor = Predictor(trainer.snapshot())
    per_sentence = {}
    for s in SENTENCES:
        if s in corpus.text:
            raise SystemExit(f"error: the sentence {s!r} is in corpus {corpus.name}")
        per_sentence[s] = top_k_accuracy(predictor, s, (1,))[1]
    chars = sum(len(s) for s in SENTENCES)
    top1 = sum(per_sentence[s] * len(s) for s in SENTENCES) / chars
    return {
        "candidate": name,
        "corpus": corpus.name,
        "model": model_config.describe(),
        "steps": trainer.step,
        "cpu_seconds": cpu_seconds,
        "wall_seconds": round(wall, 1),
        "val_bpc": trainer.validate(20_000),
        "top1": top1,
        "per_sentence": per_sentence,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-seconds", type=float, default=60.0)
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    names = [n for n in args.candidates.split(",") if n]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        print(
            f"error: unknown candidate {unknown[0]!r} (choose from {', '.join(CANDIDATES)})",
            file=sys.stderr,
        )
        return 2
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    results = []
    for name in names:
        r = measure(name, args.cpu_seconds)
        results.append(r)
        print(
            f"{name:22} {r['model']:34} steps {r['steps']:5}  wall {r['wall_seconds']:6.1f} s  "
            f"val {r['val_bpc']:.2f} bpc  top-1 {r['top1']:.1%}",
            flush=True,
        )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
