"""The type-ahead lab: the network and the n-gram baseline measured the same way on the same text."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from rnn_tui.engine.corpus import Corpus
from rnn_tui.lab.metrics import EvalReport, evaluate
from rnn_tui.lab.ngram import DEFAULT_ORDER, NgramModel

DEFAULT_EVAL_CHARS = (
    20_000  # the char-by-char walk (with word completions) costs ~0.1-0.2 ms a char
)
DEFAULT_SUGGEST_CHARS = 3_000  # k-suggestion savings: a beam search a character costs ~5-20 ms
# Counting costs about a second per MB of text at order 6 (and memory in proportion), so on a
# bigger training split the baseline counts only its last this many characters, the ones next
# to the held-out text. Every built-in corpus is smaller.
BASELINE_FIT_CHARS = 2_000_000


@dataclass(frozen=True)
class Comparison:
    """One held-out text, each model's report on it, and how long each took to build."""

    corpus: str
    chars: int
    reports: dict[str, EvalReport]  # model label -> report
    build_seconds: dict[str, float]

    def to_dict(self) -> dict:
        return {
            "corpus": self.corpus,
            "chars": self.chars,
            "models": {
                label: {
                    **asdict(r),
                    "topk": {str(k): v for k, v in r.topk.items()},
                    "savings_at": {str(k): v for k, v in r.savings_at.items()},
                    "build_seconds": self.build_seconds.get(label),
                }
                for label, r in self.reports.items()
            },
        }


def held_out_text(
    corpus: Corpus, val_fraction: float = 0.1, max_chars: int | None = DEFAULT_EVAL_CHARS
) -> str:
    """The start of the validation split (the corpus's last `val_fraction`) as text."""
    _, val_ids = corpus.split(val_fraction)
    if max_chars is not None:  # decode no more than needed (a UTF-8 character is at most 4 bytes)
        val_ids = val_ids[: max_chars * (4 if corpus.vocab.byte_mode else 1)]
    text = corpus.vocab.decode(val_ids)
    return text if max_chars is None else text[:max_chars]


def baseline_sample(
    corpus: Corpus, val_fraction: float = 0.1, max_chars: int | None = BASELINE_FIT_CHARS
) -> tuple[np.ndarray, int]:
    """The ids the baseline counts (the end of the training split) and the split's length."""
    train_ids, _ = corpus.split(val_fraction)
    return (train_ids if not max_chars else train_ids[-max_chars:]), len(train_ids)


def sample_note(
    corpus: Corpus, val_fraction: float = 0.1, max_chars: int | None = BASELINE_FIT_CHARS
) -> str:
    """How much of the training split the baseline counts ("" when all of it)."""
    sample, total = baseline_sample(corpus, val_fraction, max_chars)
    if len(sample) == total:
        return ""
    return f"fitted on the last {len(sample):,} of {total:,} training characters"


def fit_baseline(
    corpus: Corpus,
    vocab,
    order: int = DEFAULT_ORDER,
    val_fraction: float = 0.1,
    max_chars: int | None = BASELINE_FIT_CHARS,
) -> NgramModel:
    """Interpolated Kneser-Ney on (the end of) the training split, over the network's vocabulary."""
    sample, _ = baseline_sample(corpus, val_fraction, max_chars)
    if vocab == corpus.vocab:
        return NgramModel.fit(np.asarray(sample, dtype=np.int64), order=order, vocab=vocab)
    return NgramModel.fit(corpus.vocab.decode(sample), order=order, vocab=vocab)


def lab_models(network, baseline: NgramModel, dynamic: bool, net_label: str, kn_label: str) -> dict:
    """The columns of `eval` and `compare`: the network, the n-gram, their mixture and, with
    `dynamic`, the network learning from the text (dynamic evaluation) alone and mixed."""
    from rnn_tui.engine.dynamic import DynamicPredictor
    from rnn_tui.lab.mixture import MixtureModel

    models = {
        net_label: network,
        kn_label: baseline,
        "mixture": MixtureModel([network, baseline], ["network", kn_label]),
    }
    if dynamic:
        models["network, dynamic"] = DynamicPredictor(network.snapshot)
        models["mixture, dynamic"] = MixtureModel(
            [DynamicPredictor(network.snapshot), baseline], ["network", kn_label]
        )
    return models


def compare(
    corpus: Corpus,
    models: dict,
    text: str,
    build_seconds: dict[str, float] | None = None,
    suggest_chars: int | None = DEFAULT_SUGGEST_CHARS,
) -> Comparison:
    """Evaluate every model (label -> next-char model) on `text` with the same metrics."""
    reports = {}
    for label, model in models.items():
        model.reset()
        reports[label] = evaluate(model, text, suggest_chars=suggest_chars)
        model.reset()
    return Comparison(corpus.name, len(text), reports, dict(build_seconds or {}))


def timed(fn, *args, **kwargs):
    """(result, seconds) of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start
