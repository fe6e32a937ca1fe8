"""Reading the training curves: when the network has started to memorise its training text.

Memorising (overfitting): the training loss keeps falling while the loss on held-out text, which
the network never trains on, has risen for a while. Past that point the network gets better at
reciting its training text and worse at text it has not seen.
"""

from __future__ import annotations

PATIENCE = 3  # validations in a row worse than the best before it counts as "for a while"
MARGIN_BPC = 0.02  # worse means worse than the best by more than this (or 1 % of it): not noise
MARGIN_FRACTION = 0.01


def memorising_since(val_history, loss_steps, loss_history) -> int | None:
    """The step of the best validation, if the last PATIENCE validations are all clearly worse
    than it while the training loss has gone on falling since; otherwise None.

    `val_history` is (step, seconds, bpc) per validation; `loss_steps` and `loss_history` are the
    training curve's points (the step each ends at, the mean loss over it), as a Progress has them.
    """
    if len(val_history) < PATIENCE + 1 or not loss_history:
        return None
    best = min(range(len(val_history)), key=lambda i: val_history[i][2])
    best_step, _, best_bpc = val_history[best]
    after = val_history[best + 1 :]
    margin = max(MARGIN_BPC, MARGIN_FRACTION * best_bpc)
    if len(after) < PATIENCE or not all(bpc > best_bpc + margin for _, _, bpc in after[-PATIENCE:]):
        return None
    then = [loss for step, loss in zip(loss_steps, loss_history, strict=False) if step <= best_step]
    if not then:
        return None
    return best_step if loss_history[-1] < then[-1] else None
