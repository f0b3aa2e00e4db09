"""A trial's uploads to a bucket, off the training thread: one background uploader per trial attempt.

The engine writes every file atomically on the node's disk first (the checkpoint before the epoch is reported);
``request()`` then only marks the folder as changed and returns, so an epoch never waits on the network. The
queue is bounded at one pending upload: requests made while an upload runs coalesce into the next one, which
uploads each changed file as it is then (``Mirror.push``: the newest checkpoint wins, an older one is never sent
after it). ``finish()`` at the trial's end uploads what is left and waits for it; the first failure stops the
uploader and is returned there, so the trial fails with the upload's reason instead of losing it silently.
``close()`` (a stopped or crashed trial) flushes the same way and never raises over the trial's own error.
Each upload first checks that the attempt is still the trial's current one (``guard``): a superseded attempt
uploads nothing (facebench.attempts).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .. import faults
from ..attempts import StaleAttempt
from ..storage import Mirror


class Uploads:
    """The background uploader of one trial attempt's folder (see the module's docstring)."""

    def __init__(self, mirror: Mirror, guard: Callable[[str], None] | None = None) -> None:
        self.mirror, self.guard = mirror, guard
        self.requested = self.uploads = self.files = 0  # counts, for tests and logs
        self._cond = threading.Condition()
        self._pending = self._closing = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"facebench-upload-{mirror.local.name}", daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Ask for an upload of every changed file and return at once (coalesced with one already waiting)."""
        with self._cond:
            self.requested += 1
            self._pending = True
            self._cond.notify()

    def finish(self) -> str | None:
        """Upload what is left, wait for it and stop: None when every upload succeeded, else the first failure's
        reason. A superseded attempt's refusal is raised (``StaleAttempt``), not returned."""
        self._stop()
        if isinstance(self._error, StaleAttempt):
            raise self._error
        if self._error is None:
            return None
        text = " ".join(str(self._error).split())[:300] or type(self._error).__name__
        return f"upload to {self.mirror.remote.uri} failed: {type(self._error).__name__}: {text}"

    def close(self) -> None:
        """``finish`` for a trial that is already ending with its own error or stop: flush, never raise."""
        try:
            self.finish()
        except StaleAttempt:
            pass

    def _stop(self) -> None:
        with self._cond:
            self._pending = self._closing = True  # a last upload: what the trial wrote after the last request
            self._cond.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._pending or self._closing):
                    self._cond.wait()
                if not self._pending:
                    return
                self._pending = False
                last = self._closing
            try:
                faults.at("upload", self.mirror.local.name)  # tests pause here: training must go on meanwhile
                if self.guard is not None:
                    self.guard("an upload of the trial folder")
                n = self.mirror.push()
            except BaseException as e:  # noqa: BLE001 - reported by finish(), in the trial's own thread
                self._error = e
                return
            self.uploads, self.files = self.uploads + 1, self.files + n
            if last:
                return
