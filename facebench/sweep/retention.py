"""``--keep-checkpoints usable``: keep only the checkpoints a sweep can still use.

A trial's checkpoint serves two things: continuing the trial (a retry on another node, a resumed sweep) and the
trained model of a candidate. With ``usable``, a trial that ASHA stopped or that failed loses its checkpoint as
soon as Tune reports it ended (it is never continued: a stopped trial is finished); at the end of the sweep, the
completed trials outside the top ``KEEP_TOP`` (or the ``--confirm K`` candidates, if more) lose theirs. Trials
without a final record keep theirs (a resumed sweep continues them). ``all`` (the default) removes nothing.
Everything else in a trial folder stays: the report needs no checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..artefacts import CHECKPOINT, COMPLETED, SweepDir

KEEP = ("all", "usable")
KEEP_TOP = 3


def drop_checkpoint(trial_dir: Path) -> int:
    """Remove one trial's checkpoint; the bytes freed."""
    path = Path(trial_dir) / CHECKPOINT
    try:
        size = path.stat().st_size
        path.unlink()
        return size
    except FileNotFoundError:
        return 0


def drop_unusable(sweep: SweepDir, rows: list[dict[str, Any]], *, top: int = KEEP_TOP) -> int:
    """At the end of a sweep: ``rows`` are the summary's ranked rows (completed first, best first). Returns bytes
    freed."""
    keep = {r["trial_id"] for r in [r for r in rows if r["status"] == COMPLETED][: max(top, KEEP_TOP)]}
    freed = 0
    for row in rows:
        finished = sweep.trial(row["trial_id"]).final_result() is not None
        if finished and row["trial_id"] not in keep:
            freed += drop_checkpoint(sweep.trial(row["trial_id"]).path)
    return freed


def ended_early_callback(trials_root: str, epochs: int):
    """A Tune callback removing the checkpoint of a trial the scheduler stopped or that failed for good."""
    from ray.tune import Callback

    from .trainable import trial_dirname

    class DropEnded(Callback):
        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            if int((trial.last_result or {}).get("epoch") or 0) < epochs:  # stopped by ASHA: never continued
                drop_checkpoint(Path(trials_root) / trial_dirname(trial))

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            drop_checkpoint(Path(trials_root) / trial_dirname(trial))  # retries exhausted

    return DropEnded()
