"""Next-character prediction with an incremental hidden state: one step per typed character.

The recurrence is the training code's own (`cells`), run for T = 1, B = 1, so prediction and
training can never disagree about the math.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from rnn_tui.engine.cells import RECURRENCES, LSTMRecurrence
from rnn_tui.engine.corpus import Vocab
from rnn_tui.engine.encoding import utf8_need
from rnn_tui.engine.model import ParamSnapshot
from rnn_tui.engine.recurrence import param_names


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """A float64 probability vector from logits; temperature scales the logits first."""
    logits = np.asarray(logits)
    z = np.subtract(logits, logits.max(axis=-1, keepdims=True), dtype=np.float64)
    if temperature != 1.0:
        # (x - max) / T: the same as x / T - max / T, for T > 0, and the top stays 0 however
        # small T is; below it an overflow is -inf, a probability of 0, as it should be
        with np.errstate(over="ignore"):
            z /= temperature
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def is_word_end(ch: str) -> bool:
    """Where a word completion stops: whitespace (space, newline, tab, ...)."""
    return ch.isspace()


# Scripts written without spaces between words (Unicode blocks): Thai, Lao, Tibetan, Myanmar,
# Khmer, CJK radicals, punctuation and ideographs, kana, full and half width forms. Their "word",
# a run up to the next space, is a clause or a line: too long to complete, so suggestions there
# are phrases.
SPACELESS_BLOCKS = (
    (0x0E00, 0x0EFF),
    (0x0F00, 0x0FFF),
    (0x1000, 0x109F),
    (0x1780, 0x17FF),
    (0x19E0, 0x19FF),
    (0x2E80, 0x2FDF),
    (0x3001, 0x30FF),
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0xFF01, 0xFF9F),
    (0x20000, 0x3134F),
)


def spaceless(ch: str) -> bool:
    """Whether a character belongs to a script written without spaces between words."""
    code = ord(ch) if len(ch) == 1 else -1
    return any(lo <= code <= hi for lo, hi in SPACELESS_BLOCKS)


def current_word(text: str, limit: int | None = None) -> str:
    """The typed part of the word `text` ends in (after its last word end), or its last `limit`
    characters."""
    start = len(text) if limit is None else min(len(text), limit)
    for j in range(1, start + 1):
        if is_word_end(text[-j]):
            return text[len(text) - j + 1 :]
    return text[len(text) - start :]


def ends_word(vocab: Vocab, symbol: str) -> bool:
    """Whether a symbol of `vocab` ends a word. In byte mode only an ASCII byte can: 0x85 and
    0xA0, white space as Latin-1 characters, are the middle of a UTF-8 character there."""
    return is_word_end(symbol) and not (vocab.byte_mode and symbol >= "\x80")


class NextCharModel:
    """What every next-character model offers (the network's Predictor and the n-gram baseline).

    Subclasses implement `vocab`, `reset`, `feed`, `probs` and `clone`; the rest is shared.
    """

    vocab: Vocab

    def reset(self) -> None:
        raise NotImplementedError

    def feed(self, ch: str) -> bool:
        raise NotImplementedError

    def feed_symbol(self, i: int) -> None:
        """Feed the vocabulary's symbol `i` (a byte in byte mode, where a character is several)."""
        self.feed(self.vocab.chars[i])

    @property
    def probs(self) -> np.ndarray:
        raise NotImplementedError

    def clone(self) -> NextCharModel:
        raise NotImplementedError

    def feed_text(self, text: str) -> int:
        """Feed every character; unknown ones are skipped. Returns how many were known."""
        return sum(self.feed(ch) for ch in text)

    def lookahead(self) -> NextCharModel:
        """A copy to look ahead with (greedy, sampling, beam search): what it is fed is a guess,
        so a model that learns from its input (dynamic evaluation, mixing weights) must not."""
        return self.clone()

    def for_thread(self) -> NextCharModel:
        """A copy for another thread to look ahead with (a beam search) while this one goes on
        being fed: by default a clone; a model may share what it only reads."""
        return self.clone()

    def top_k(self, k: int = 10) -> list[tuple[str, float]]:
        """The k most probable next characters, best first (in byte mode: `top_characters`)."""
        if self.vocab.byte_mode:
            return top_characters(self, k)
        p = self.probs
        best = np.argsort(-p, kind="stable")[:k]  # ties in vocabulary order, as metrics ranks them
        return [(self.vocab.chars[i], float(p[i])) for i in best]

    def greedy(self, max_len: int = 40, stop_at_word_end: bool = True) -> str:
        """The most likely continuation of up to `max_len` characters, up to the end of the word;
        the state is left unchanged."""
        model, count = self.lookahead(), CharacterCount(self.vocab)
        out: list[int] = []
        while count.chars < max_len and len(out) < 4 * max_len:
            i = int(np.argmax(model.probs))
            ch = self.vocab.chars[i]
            if stop_at_word_end and ends_word(self.vocab, ch):
                break
            out.append(i)
            count.add(i)
            model.feed_symbol(i)
        return self.vocab.decode(whole_characters(self.vocab, out))

    def sample(self, length: int, temperature: float = 1.0, seed: int | None = None) -> str:
        """Draw a continuation of `length` characters; temperature 0 means greedy. The state is
        left unchanged."""
        if temperature == 0:
            return self.greedy(length, stop_at_word_end=False)
        rng = np.random.default_rng(seed)
        model, count = self.lookahead(), CharacterCount(self.vocab)
        out: list[int] = []
        while count.chars < length and len(out) < 4 * length:
            p = model.probs
            if temperature != 1.0:
                # In log space, the largest first (softmax): p ** (1 / T) underflows to all zeros
                # at a small T, while this keeps the top symbol at 1 and tends to greedy. A
                # probability of 0 (an underflow) is log 0 = -inf: never drawn.
                with np.errstate(divide="ignore"):
                    p = softmax(np.log(p), temperature)
            i = int(rng.choice(p.size, p=p))
            out.append(i)
            count.add(i)
            model.feed_symbol(i)
        return self.vocab.decode(whole_characters(self.vocab, out))


class CharacterCount:
    """How many characters a run of symbols makes: one each, or in byte mode one per UTF-8
    character (a byte no character can hold shows as one U+FFFD, so it counts as one)."""

    def __init__(self, vocab: Vocab) -> None:
        self.chars, self.due = 0, 0
        self.codes = vocab.codes.tolist() if vocab.byte_mode else None

    def add(self, i: int) -> None:
        if self.codes is None:
            self.chars += 1
            return
        need = utf8_need(self.codes[i])
        if need == -1 and self.due:
            self.due -= 1
            self.chars += self.due == 0
        elif need > 0:
            self.chars += self.due > 0  # (an unfinished character before it: one U+FFFD)
            self.due = need
        else:
            self.chars += 1 + (self.due > 0)
            self.due = 0


def whole_characters(vocab: Vocab, ids: list[int]) -> list[int]:
    """`ids` without a last character cut short: a byte-mode continuation that stopped after a
    count of bytes, not of characters, would end in a lead byte and show as U+FFFD."""
    if not vocab.byte_mode:
        return ids
    for back in range(1, min(4, len(ids)) + 1):
        need = utf8_need(int(vocab.codes[ids[-back]]))
        if need != -1:  # the last character's first byte (or a byte no UTF-8 holds)
            return ids[: len(ids) - back] if 0 < need >= back else ids
    return ids


MAX_EXPANSIONS = 8  # model steps `top_characters` may look ahead (about 0.1 ms each)


def top_characters(model: NextCharModel, k: int) -> list[tuple[str, float]]:
    """A byte-mode model's k most probable next characters, best first: a character of several
    UTF-8 bytes has the product of its bytes' probabilities, each given the ones before.

    Unfinished characters are looked ahead most probable first, and no further once the k-th
    whole one is more probable than any of them (probabilities only shrink as bytes are added),
    or after MAX_EXPANSIONS steps. A byte that cannot start a character here is left out, so the
    figures are of characters and may sum to less than the bytes' whole mass.
    """
    vocab = model.vocab
    codes = vocab.codes.tolist()
    follow = np.array([i for i, b in enumerate(codes) if utf8_need(b) == -1], dtype=np.intp)
    p = model.probs
    found: list[tuple[float, str]] = []  # (probability, character)
    partial: list[tuple[float, tuple[int, ...], int]] = []  # (-probability, bytes, bytes due)
    for i in np.flatnonzero(p > 0).tolist():
        need = utf8_need(codes[i])
        if need == 0:
            found.append((float(p[i]), vocab.chars[i]))
        elif need > 0:
            heapq.heappush(partial, (-float(p[i]), (i,), need))
    found.sort(key=lambda f: -f[0])
    del found[k:]
    for _ in range(MAX_EXPANSIONS):
        if not partial or (len(found) >= k and -partial[0][0] <= found[-1][0]):
            break
        neg, ids, due = heapq.heappop(partial)
        ahead = model.lookahead()
        for i in ids:
            ahead.feed_symbol(i)
        q = ahead.probs[follow]
        for j in np.argsort(-q, kind="stable")[:k].tolist():
            prob = -neg * float(q[j])
            if prob <= 0:
                break
            grown = (*ids, int(follow[j]))
            if due > 1:
                heapq.heappush(partial, (-prob, grown, due - 1))
                continue
            ch = vocab.decode(grown)
            if len(ch) == 1 and ch != "\ufffd":  # (a sequence UTF-8 forbids decodes to U+FFFD)
                found.append((prob, ch))
        found.sort(key=lambda f: -f[0])
        del found[k:]
    return [(ch, prob) for prob, ch in found]


class Predictor(NextCharModel):
    """The network over an immutable snapshot, fed one character at a time."""

    def __init__(self, snapshot: ParamSnapshot) -> None:
        self.snapshot = snapshot
        self.config = cfg = snapshot.config
        self.vocab = snapshot.vocab
        p = snapshot.params
        self.names = [param_names(cfg.cell, f"_{l}" if l else "") for l in range(cfg.layers)]
        self._init_buffers()
        # Each layer's input weights as its cell takes them (recurrence.Recurrence.input_params), and
        # layer 0's projection for every character, so that a keystroke is a row lookup.
        self._inputs, self._Wh = [], []
        for layer, (Wx, bx, Wh, bh) in zip(self.layers, self.names, strict=True):
            self._inputs.append(layer.input_params(p[Wx], p[bx], p[bh] if bh else None))
            self._Wh.append(layer.recurrent_params(p[Wh]))
        Wx0, b0 = self._inputs[0]
        self._table = (p["E"] @ Wx0 if cfg.embed else Wx0.copy()) + b0
        self.reset()

    def _init_buffers(self) -> None:
        cfg = self.config
        self.layers = [RECURRENCES[cfg.cell](cfg.hidden, np.float32) for _ in range(cfg.layers)]
        for layer in self.layers:
            layer.ensure(1, 1)
        self._P = [np.zeros((1, 1, layer.G), np.float32) for layer in self.layers]
        self.state = [np.zeros(layer.state_shape(1), np.float32) for layer in self.layers]
        self._h = np.zeros((1, cfg.hidden), np.float32)
        self._logits = np.zeros((1, cfg.vocab_size), np.float32)

    def reset(self) -> None:
        for s in self.state:
            s.fill(0.0)
        self._h.fill(0.0)
        self._probs: np.ndarray | None = None
        self.fed = 0

    def feed(self, ch: str) -> bool:
        ids = self.vocab.symbols_of(ch)  # (a multi-byte character's bytes: one step each)
        for i in ids:
            self.feed_id(i)
        return bool(ids)

    def feed_symbol(self, i: int) -> None:
        self.feed_id(i)

    def feed_id(self, i: int) -> None:
        """One keystroke: a step of every layer (recurrence.Recurrence.step), the state kept."""
        p = self.snapshot.params
        x = self._table[i : i + 1]
        for l, layer in enumerate(self.layers):
            if l:
                Wx, b = self._inputs[l]
                x = np.matmul(x, Wx, out=self._P[l][0])
                x += b
            bh = self.names[l][3]
            x = layer.step(x, self.state[l], self._Wh[l], p[bh] if bh else None)
        self._h[...] = x
        self._probs = None
        self.fed += 1

    def feed_text(self, text: str) -> int:
        """Feed a whole text as one chunk (T = len, B = 1): the same steps, far fewer calls."""
        ids = self.vocab.encode(text)
        if len(ids) < 4:
            for i in ids:
                self.feed_id(int(i))
            return len(ids)
        self._feed_chunk(ids)
        return len(ids)

    def feed_scored(self, text: str) -> np.ndarray:
        """Feed the known characters of `text` as one chunk and return, for each, the distribution
        the model gave just before it, plus the one after the last: shape (known + 1, V)."""
        before = self.probs
        ids = self.vocab.encode(text)
        if len(ids) == 0:
            return before[None, :].copy()
        top = self._feed_chunk(ids)
        p = self.snapshot.params
        after = softmax(top.reshape(len(ids), -1) @ p["Why"] + p["by"])
        self._probs = after[-1]
        return np.concatenate([before[None, :], after])

    def _feed_chunk(self, ids: np.ndarray) -> np.ndarray:
        """Run the recurrence over ids (T, B = 1); return the top layer's h_1..h_T."""
        p, T = self.snapshot.params, len(ids)
        P = self._table[ids][:, None, :]  # layer 0's input projection: a row lookup
        for l, layer in enumerate(self.layers):
            _, _, Wh, bh = self.names[l]
            h = layer.forward(P, self.state[l], p[Wh], p[bh] if bh else None, prepared=True)
            layer.final_state(out=self.state[l])
            if l + 1 < len(self.layers):
                Wx, b = self._inputs[l + 1]
                P = (h.reshape(T, -1) @ Wx + b)[:, None, :]
        self._h[...] = h[-1]
        self._probs = None
        self.fed += T
        return h

    @property
    def logits(self) -> np.ndarray:
        np.matmul(self._h, self.snapshot.params["Why"], out=self._logits)
        self._logits += self.snapshot.params["by"]
        return self._logits[0]

    @property
    def probs(self) -> np.ndarray:
        if self._probs is None:
            self._probs = softmax(self.logits)
        return self._probs

    @property
    def hidden(self) -> np.ndarray:
        """The top layer's h_t, shape (H,)."""
        return self._h[0].copy()

    def lookahead(self) -> Predictor:
        """A copy of the state that shares this predictor's scratch buffers (the layers' step
        buffers, the logits): cheap enough for a beam search, for use on the same thread only."""
        twin = object.__new__(Predictor)
        twin.__dict__.update(self.__dict__)
        twin.state = [s.copy() for s in self.state]
        twin._h = self._h.copy()
        return twin

    def clone(self) -> Predictor:
        twin = object.__new__(Predictor)
        twin.__dict__.update(self.__dict__)
        twin._init_buffers()
        for mine, theirs in zip(twin.state, self.state, strict=True):
            mine[...] = theirs
        twin._h[...] = self._h
        twin._probs = self._probs
        return twin


@dataclass(frozen=True)
class HiddenTrace:
    """The top layer's state after each character of a text, from a zero state."""

    text: str  # the characters the network read (those outside its vocabulary are left out)
    h: np.ndarray  # (T, H): h_t after text[t]
    c: np.ndarray | None  # (T, H): the LSTM's cell state c_t; None for the other cells


def hidden_trace(snapshot: ParamSnapshot, text: str) -> HiddenTrace:
    """Run `text` through the network in one chunk (the predictor's own recurrence) and keep every
    step's hidden state, and the LSTM's cell state, for drawing units over the text. A byte-mode
    model reads a character as its bytes: the state kept is the one after its last byte."""
    predictor = Predictor(snapshot)
    vocab = predictor.vocab
    ends = None  # in byte mode: the step that ends each character (its state is the character's)
    if vocab.byte_mode:
        whole = [(ch, vocab.symbols_of(ch)) for ch in text]
        whole = [(ch, s) for ch, s in whole if len(s) == len(ch.encode("utf-8", "surrogatepass"))]
        ids = np.array([i for _, s in whole for i in s], dtype=np.int32)
        ends = np.cumsum([len(s) for _, s in whole]) - 1
        known = "".join(ch for ch, _ in whole)
    else:
        ids = vocab.encode(text)
        known = vocab.decode(ids)
    H = snapshot.config.hidden
    if len(ids) == 0:
        empty = np.zeros((0, H), np.float32)
        return HiddenTrace(known, empty, empty.copy() if snapshot.config.cell == "lstm" else None)
    h = predictor._feed_chunk(ids)[:, 0, :]
    top = predictor.layers[-1]
    c = top.cs[1:, 0, :] if isinstance(top, LSTMRecurrence) else None
    steps = slice(None) if ends is None else ends
    return HiddenTrace(known, h[steps].copy(), None if c is None else c[steps].copy())
