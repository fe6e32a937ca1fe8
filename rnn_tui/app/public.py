"""Public mode: what a visitor of `rnn-tui serve --public` may do with the app. No Textual.

A visitor is untrusted: they never type a path. The corpora are the built-ins plus files the
operator named when the server started (a visitor picks them by name); save is a download to
the visitor's browser; load is an upload through the server (or off); the settings that cost the
server more have caps set at start. The serve process hands the policy to each app process in
the environment (RNN_TUI_PUBLIC, JSON), which a visitor cannot touch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.corpus import BUILTIN_CORPORA
from rnn_tui.engine.errors import ConfigError

ENV = "RNN_TUI_PUBLIC"
UPLOAD_ENV = "RNN_TUI_UPLOAD"  # JSON: {"dir": the session's private folder, "url": its upload page}
UPLOAD_NAME = "upload.npz"  # the one file a session's upload folder holds
DEFAULT_CAPS = {"hidden": 256, "layers": 2, "batch": 32}


@dataclass(frozen=True)
class PublicPolicy:
    corpora: dict[str, str] = field(default_factory=dict)  # name shown -> what load_corpus reads
    max_hidden: int = DEFAULT_CAPS["hidden"]
    max_layers: int = DEFAULT_CAPS["layers"]
    max_batch: int = DEFAULT_CAPS["batch"]
    # A training step's memory grows with the BPTT length as with the batch, and an embedding
    # adds parameters and input rows: at every cap a step needs about 240 MB (gru, a vocabulary
    # of 100; `model.chunk_bytes`), at seq_len 1024 eight times that. `serve` has no flags for
    # these yet.
    max_seq_len: int = 128
    max_embed: int = 256
    # Training processes a visitor's app may run: each session is one already, and a visitor
    # must not take every core of the server (`serve` has no flag for it yet).
    max_workers: int = 1
    save: bool = True  # a download to the visitor's browser
    load: bool = True  # an upload, when the server offers one

    @classmethod
    def with_corpora(cls, files: list[str], **caps) -> PublicPolicy:
        """The built-ins plus the operator's files, each shown by its file name."""
        corpora = {name: name for name in BUILTIN_CORPORA}
        for path in files:
            if path in corpora:
                continue
            name = os.path.basename(path) or path
            while name in corpora and corpora[name] != path:  # two files of one name
                name = "_" + name
            corpora[name] = path  # as given: the app processes start in the same folder
        return cls(corpora, **caps)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PublicPolicy | None:
        text = (os.environ if environ is None else environ).get(ENV)
        if not text:
            return None
        try:
            data = json.loads(text)
            return cls(**data)
        except (ValueError, TypeError) as e:  # set by the serve process only: a bug if wrong
            raise ConfigError(f"{ENV} is not a public-mode policy ({e})") from None

    def corpus_source(self, name: str) -> str:
        """What to load for a corpus the visitor picked by name; refuses any other name."""
        if name not in self.corpora:
            raise ConfigError(
                f"corpus {name!r} is not offered here; choose one of {', '.join(self.corpora)}"
            )
        return self.corpora[name]

    def corpus_name(self, source: str) -> str | None:
        """The name shown for a corpus the app has loaded (its Corpus.name), if it is offered."""
        for name, where in self.corpora.items():
            if source in (name, where):
                return name
        return None

    def check(self, model: ModelConfig, train: TrainConfig, workers: int | None = None) -> None:
        """Refuse settings beyond the caps set at start (workers None: the app's default,
        capped without a word)."""
        for what, value, cap in (
            ("hidden", model.hidden, self.max_hidden),
            ("layers", model.layers, self.max_layers),
            ("embed", model.embed, self.max_embed),
            ("seq_len", train.seq_len, self.max_seq_len),
            ("batch", train.batch, self.max_batch),
            ("workers", workers or 0, self.max_workers),
        ):
            if value > cap:
                raise ConfigError(f"{what} is capped at {cap} on this server (got {value})")


def upload_slot(environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(this session's upload folder, its upload page's URL), when the server offers uploads."""
    text = (os.environ if environ is None else environ).get(UPLOAD_ENV)
    if not text:
        return None
    try:
        data = json.loads(text)
        return str(data["dir"]), str(data["url"])
    except (ValueError, KeyError, TypeError):
        return None
