"""Hypothesis: whatever bytes the loaders are given, they load or raise their own error type."""

import io
import itertools
import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnn_tui.engine.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.corpus import Vocab, load_corpus
from rnn_tui.engine.errors import CheckpointError, CorpusError

FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_names = itertools.count()


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


corpus_bytes = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=100).map(lambda s: s.encode("utf-8")),
    st.tuples(
        st.sampled_from([b"", b"\xef\xbb\xbf"]), st.text(max_size=50), st.binary(max_size=8)
    ).map(lambda t: t[0] + t[1].encode("utf-8") + t[2]),
)


@FUZZ
@given(data=corpus_bytes)
def test_any_bytes_load_as_corpus_or_corpus_error(fuzz_dir, data):
    path = fuzz_dir / f"c{next(_names)}.txt"
    path.write_bytes(data)
    try:
        c = load_corpus(str(path))
    except CorpusError as e:
        assert "\n" not in str(e) and str(path) in str(e)
    else:
        assert len(c.vocab) >= 2 and c.vocab.decode(c.ids) == c.text
        assert c.text == data.removeprefix(b"\xef\xbb\xbf").decode("utf-8").replace("\r\n", "\n")
    finally:
        path.unlink()


@pytest.fixture(scope="module")
def valid_ckpt_bytes(fuzz_dir):
    config = ModelConfig(vocab_size=3, cell="gru", hidden=2, embed=2)
    rng = np.random.default_rng(0)
    params = {
        k: rng.standard_normal(s).astype(np.float32) for k, s in config.param_shapes().items()
    }
    opt = {"m.Wx": np.zeros((2, 6)), "t": np.array(3)}
    path = fuzz_dir / "valid.npz"
    save_checkpoint(
        path, Checkpoint(config, Vocab("abc"), params, TrainConfig(), 5, "abcde", 1, opt)
    )
    return path.read_bytes()


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("set"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 64)),
)


def mutate(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for op, pos, arg in ops:
        if not buf:
            break
        pos %= len(buf)
        if op == "flip":
            buf[pos] ^= arg
        elif op == "set":
            buf[pos] = arg
        elif op == "truncate":
            del buf[pos:]
        elif op == "insert":
            buf[pos:pos] = arg
        else:
            del buf[pos : pos + arg]
    return bytes(buf)


def assert_loads_or_one_line_error(path) -> None:
    """A damaged file either loads as a whole checkpoint (every parameter, float32, finite) or
    gives a one-line CheckpointError; either way the file is removed."""
    try:
        c = load_checkpoint(path)
    except CheckpointError as e:
        assert "\n" not in str(e)
    else:
        assert set(c.params) == set(c.model_config.param_shapes())
        assert all(p.dtype == np.float32 and np.isfinite(p).all() for p in c.params.values())
    finally:
        path.unlink()


@FUZZ
@given(ops=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_checkpoint_loads_or_checkpoint_error(fuzz_dir, valid_ckpt_bytes, ops):
    path = fuzz_dir / f"m{next(_names)}.npz"
    path.write_bytes(mutate(valid_ckpt_bytes, ops))
    assert_loads_or_one_line_error(path)


@pytest.fixture(scope="module")
def valid_members(fuzz_dir, valid_ckpt_bytes):
    path = fuzz_dir / "members.npz"
    path.write_bytes(valid_ckpt_bytes)
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rezip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


header_bytes = st.sampled_from(list(b"0123456789'(),:{} -<>fiuUOSVbc?|e\x00\xff\n"))
member_mutation = st.one_of(
    mutation,
    st.tuples(st.just("set"), st.integers(0, 127), header_bytes),  # aim at the .npy header
    st.tuples(st.just("insert"), st.integers(0, 127), st.binary(min_size=1, max_size=4)),
)


@FUZZ
@given(data=st.data(), ops=st.lists(member_mutation, min_size=1, max_size=3))
def test_mutated_array_contents_load_or_checkpoint_error(fuzz_dir, valid_members, data, ops):
    """Damage inside one .npy member of an intact zip (CRCs valid), reaching numpy's parsers."""
    name = data.draw(st.sampled_from(sorted(valid_members)))
    path = fuzz_dir / f"a{next(_names)}.npz"
    rezip(path, {**valid_members, name: mutate(valid_members[name], ops)})
    assert_loads_or_one_line_error(path)


scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=4)
)
json_values = (
    scalars
    | st.lists(scalars, max_size=3)
    | st.dictionaries(st.text(max_size=4), scalars, max_size=2)
)
META_KEYS = ["format_version", "model", "train", "vocab", "step", "corpus", "seed"]
MODEL_KEYS = ["vocab_size", "cell", "hidden", "layers", "embed"]


@FUZZ
@given(
    meta_changes=st.dictionaries(st.sampled_from(META_KEYS), json_values, max_size=2),
    model_changes=st.dictionaries(st.sampled_from(MODEL_KEYS), json_values, max_size=2),
)
def test_odd_meta_values_load_or_checkpoint_error(
    fuzz_dir, valid_members, meta_changes, model_changes
):
    meta = json.loads(str(np.lib.format.read_array(io.BytesIO(valid_members["meta.npy"]))))
    meta["model"].update(model_changes)
    meta.update(meta_changes)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array(json.dumps(meta)))
    path = fuzz_dir / f"j{next(_names)}.npz"
    rezip(path, {**valid_members, "meta.npy": buf.getvalue()})
    assert_loads_or_one_line_error(path)
