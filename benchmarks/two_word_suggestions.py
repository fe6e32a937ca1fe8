"""Would suggestions of two words save more keys than words? The suggestion bar's policy (the k
likeliest completions of the current word, `lab.suggest`) beside suggestions that may run on
through one space into the next word, on a checkpoint's held-out text (docs/lab.md).

    python benchmarks/two_word_suggestions.py CKPT CORPUS [--chars 1500]
        [--model "mixture, dynamic"] [--policy words,two-by-keys,two-by-prob,word-then-two]

The walk: before each character inside a word, the policy shows k suggestions; one key takes the
longest shown that the text goes on with up to a word end (a two-word one covers the space and the
next word), else the character is typed. Savings = 1 - keys / characters, for k = 1 and 3. Each
policy is its own user. Printed as JSON lines, never asserted.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from rnn_tui.engine.checkpoint import load_checkpoint  # noqa: E402
from rnn_tui.engine.corpus import load_corpus  # noqa: E402
from rnn_tui.engine.model import ParamSnapshot  # noqa: E402
from rnn_tui.engine.predict import Predictor, is_word_end  # noqa: E402
from rnn_tui.lab.evaluate import fit_baseline, held_out_text, lab_models  # noqa: E402
from rnn_tui.lab.metrics import word_ends  # noqa: E402
from rnn_tui.lab.suggest import suggest, word_end_ids  # noqa: E402


def two_words(model, k: int, by_keys: bool, beam: int = 6, max_len: int = 32) -> list[str]:
    """The k best completions of this word or of it, a space and the next word: beam search as in
    `lab.suggest`, ranked by P(completion, then a word end), times the keys it saves (`by_keys`)."""
    vocab = model.vocab
    ends = word_end_ids(vocab)
    space = vocab.chars.index(" ") if " " in vocab.chars else None
    bound = math.log(max_len - 1) if by_keys else 0.0
    done: list[tuple[float, str]] = []
    frontier = [(0.0, (), model.lookahead())]
    for _ in range(max_len + 1):
        grown = []
        for logp, ids, m in frontier:
            p = m.probs
            if len(ids) >= 2 and ids[-1] != space and (end := float(p[ends].sum())) > 0:
                score = logp + math.log(end) + (math.log(len(ids) - 1) if by_keys else 0.0)
                item = (score, vocab.decode(ids))
                if len(done) < k:
                    heapq.heappush(done, item)
                elif item > done[0]:
                    heapq.heapreplace(done, item)
            if len(ids) >= max_len:
                continue
            cont = np.where(ends, -1.0, p)
            if space is not None and ids and space not in ids:
                cont[space] = p[space]  # one space: into the next word
            for i in np.argpartition(-cont, 4)[:4]:
                if cont[i] > 0:
                    grown.append((logp + math.log(float(cont[i])), (*ids, int(i)), m))
        if not grown:
            break
        grown = sorted(grown, key=lambda g: -g[0])[:beam]
        if len(done) == k and grown[0][0] + bound <= done[0][0]:
            break
        frontier = []
        for logp, ids, parent in grown:
            child = parent.lookahead()
            child.feed_symbol(ids[-1])
            frontier.append((logp, ids, child))
    return [text for _, text in sorted(done, reverse=True)]


def words(model, k: int) -> list[str]:
    return [c for c, _ in suggest(model, k)]


def word_then_two(model, k: int) -> list[str]:
    """The likeliest word first, then a two-word suggestion, then the next words."""
    first = words(model, k)
    if k == 1:
        return first
    more = [c for c in two_words(model, 2 * k, by_keys=False) if " " in c and c not in first]
    return first[:1] + (more[:1] + first[1:])[: k - 1]


POLICIES = {
    "words": words,
    "two-by-keys": lambda m, k: two_words(m, k, by_keys=True),
    "two-by-prob": lambda m, k: two_words(m, k, by_keys=False),
    "word-then-two": word_then_two,
}


def savings(model, text: str, k: int, policy) -> float:
    m = model.clone()
    m.reset()
    ends = word_ends(text)
    keys, until = 0, 0
    for i, ch in enumerate(text):
        if i >= until:
            rest = text[i : ends[i]] if ends[i] > 0 else ""
            if len(rest) >= 2:
                taken = [
                    c
                    for c in policy(m, k)
                    if text.startswith(c, i)
                    and (i + len(c) == len(text) or is_word_end(text[i + len(c)]))
                ]
                if taken:
                    keys += 1
                    until = i + max(map(len, taken))
            if i >= until:
                keys += 1
        m.feed(ch)
    return 1 - keys / len(text)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("corpus", help="the checkpoint's corpus (preset name or file)")
    p.add_argument("--chars", type=int, default=1500, help="held-out characters walked")
    p.add_argument("--model", default="mixture, dynamic")
    p.add_argument("--policy", default=",".join(POLICIES))
    args = p.parse_args()
    ck = load_checkpoint(args.checkpoint)
    corpus = load_corpus(args.corpus)
    network = Predictor(ParamSnapshot.of(ck.model_config, ck.vocab, ck.params))
    models = lab_models(network, fit_baseline(corpus, ck.vocab), True, "network", "kn6")
    if args.model not in models:
        p.error(f"--model: one of {', '.join(models)}")
    text = held_out_text(corpus)[: args.chars]
    for name in args.policy.split(","):
        if name not in POLICIES:
            p.error(f"--policy: no such policy {name!r} ({', '.join(POLICIES)})")
        s = {k: savings(models[args.model], text, k, POLICIES[name]) for k in (1, 3)}
        row = {"policy": name, "savings_1": s[1], "savings_3": s[3], "ratio": s[3] / s[1]}
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
