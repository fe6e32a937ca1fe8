"""`--model net|ngram|mix` for `predict` and `sample`: which next-character model answers.

The default is the mixture of the network and an order-6 Kneser-Ney n-gram fitted on the
checkpoint's own corpus (its name is in the checkpoint), when that corpus can be loaded with the
checkpoint's vocabulary; otherwise the network alone, said once on stderr.
"""

from __future__ import annotations

import sys

from rnn_tui.engine.errors import ConfigError, CorpusError

MODEL_CHOICES = ("net", "ngram", "mix")


def add_model_choice(p) -> None:
    p.add_argument(
        "--model",
        choices=MODEL_CHOICES,
        default=None,
        help="network, n-gram or their mixture (default: mix when the checkpoint's "
        "corpus is at hand, else net)",
    )


def _fit_ngram(ckpt):
    """An order-6 n-gram on the training split of the checkpoint's corpus, or why not."""
    from rnn_tui.engine.corpus import load_corpus, policy_for
    from rnn_tui.lab.evaluate import fit_baseline

    if not ckpt.corpus:
        return None, "the checkpoint does not name its corpus"
    try:
        corpus = load_corpus(ckpt.corpus, policy_for(ckpt.vocab))
    except CorpusError as exc:
        return None, f"its corpus cannot be loaded ({exc})"
    if corpus.vocab != ckpt.vocab:
        return None, f"corpus '{ckpt.corpus}' now has another vocabulary than the checkpoint"
    val_fraction = ckpt.train_config.val_fraction if ckpt.train_config else 0.1
    return fit_baseline(corpus, ckpt.vocab, val_fraction=val_fraction), ""


def choose_model(ckpt, network, choice: str | None):
    """(model, the choice made) for `--model`; see the module docstring."""
    from rnn_tui.lab.mixture import MixtureModel

    if choice == "net":
        return network, "net"
    ngram, why = _fit_ngram(ckpt)
    if ngram is None:
        if choice is not None:
            raise ConfigError(f"--model {choice} needs an n-gram, but {why}")
        print(f"note: the network alone: no n-gram to mix with, {why}", file=sys.stderr)
        return network, "net"
    if choice == "ngram":
        return ngram, "ngram"
    return MixtureModel([network, ngram], ["network", "n-gram"]), "mix"
