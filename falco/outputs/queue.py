"""The outputs queue: alerts leave the capture path at once.

Each output has its own bounded queue and worker thread, so a slow or dead
output (an HTTP endpoint that hangs, a program that stops reading) delays only
itself: capture never waits, and the other outputs keep delivering. When an
output's queue is full the alert is dropped for that output and counted
(upstream logs the first overflow and counts the rest, as here). ``close``
delivers everything already queued before the outputs are closed, which is
what SIGTERM relies on; an output whose current write has been blocked for longer
than ``output_timeout`` is given up at that point (``Output.abort``: its program
killed, its socket shut) and its queued alerts are counted as undelivered, so
that a stuck output cannot keep falco from exiting."""

from __future__ import annotations

import logging
import queue
import threading
import time

from .base import Message, Output

log = logging.getLogger("falco")

#: Bound used when outputs_queue.capacity is 0 ("no explicit limit" upstream).
DEFAULT_CAPACITY = 100_000
#: most alerts handed to an output's write_many at once
_BATCH = 1024
_STOP = object()
_REOPEN = object()


class _Worker:
    def __init__(self, output: Output, capacity: int, slow_after: float) -> None:
        self.output = output
        self.queue: queue.Queue[object] = queue.Queue(capacity)
        self.drops = 0
        self.delivered = 0
        self.errors = 0
        self.undelivered = 0
        #: monotonic time the current write started (None when idle)
        self.busy_since: float | None = None
        self.aborted = False
        self._slow_after = slow_after
        self.thread = threading.Thread(target=self._run, name=f"falco-output-{output.name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        out = self.output
        batched = type(out).write_many is not Output.write_many
        held: object = None  # a control item met while collecting a batch
        while True:
            item, held = (held, None) if held is not None else (self.queue.get(), None)
            if item is _STOP:
                break
            start = self.busy_since = time.monotonic()
            try:
                if item is _REOPEN:
                    out.reopen()
                elif batched:
                    # everything queued in one write: the worker may get the GIL only once
                    # per switch interval while the capture thread runs
                    batch = [item]
                    while len(batch) < _BATCH:
                        try:
                            nxt = self.queue.get_nowait()
                        except queue.Empty:
                            break
                        if not isinstance(nxt, Message):
                            held = nxt
                            break
                        batch.append(nxt)
                    out.write_many(batch)  # type: ignore[arg-type]
                    self.delivered += len(batch)
                else:
                    assert isinstance(item, Message)
                    out.write(item)
                    self.delivered += 1
            except Exception as e:  # any delivery failure is logged, never fatal
                self.errors += 1
                log.error("%s output: %s", out.name, e)
            self.busy_since = None
            took = time.monotonic() - start
            if took > self._slow_after:
                log.warning("%s output: blocked for %.1f s", out.name, took)
            if self.aborted:
                self.undelivered = sum(1 for i in self._drain() if isinstance(i, Message))
                break
        self.busy_since = time.monotonic()  # closing may block too (a program that does not end)
        try:
            out.close()
        except Exception as e:
            log.error("%s output: %s", out.name, e)
        self.busy_since = None

    def _drain(self) -> list[object]:
        items = []
        while True:
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                return items

    def abort(self) -> None:
        self.aborted = True
        try:
            self.output.abort()
        except Exception as e:
            log.error("%s output: %s", self.output.name, e)


class OutputsQueue:
    """Fan-out of alerts to outputs, each drained by its own thread."""

    def __init__(self, outputs: list[Output], capacity: int = 0, output_timeout_ms: int = 2000) -> None:
        cap = capacity or DEFAULT_CAPACITY
        self._timeout = output_timeout_ms / 1000
        self._workers = [_Worker(o, cap, self._timeout) for o in outputs]
        self._closed = False

    def push(self, msg: Message) -> None:
        """Queue ``msg`` for every output; never blocks."""
        for w in self._workers:
            try:
                w.queue.put_nowait(msg)
            except queue.Full:
                if w.drops == 0:
                    log.error("Outputs queue out of memory (%s output). Drop event and continue on ...",
                              w.output.name)
                w.drops += 1

    def reopen(self) -> None:
        """Ask every output to reopen (SIGUSR1), after the alerts already queued."""
        for w in self._workers:
            try:
                w.queue.put_nowait(_REOPEN)
            except queue.Full:
                log.error("%s output: queue full, reopen request dropped", w.output.name)

    @property
    def drops(self) -> int:
        """Alerts dropped by queue overflow, summed over outputs."""
        return sum(w.drops for w in self._workers)

    @property
    def undelivered(self) -> int:
        """Alerts left in the queues of outputs given up at exit (``close``)."""
        return sum(w.undelivered for w in self._workers)

    def stats(self) -> dict[str, dict[str, int]]:
        """Per output: delivered, errors, drops (for metrics)."""
        return {w.output.name: {"delivered": w.delivered, "errors": w.errors, "drops": w.drops}
                for w in self._workers}

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is queued, then close every output (waits at most
        ``timeout`` seconds per output when given). An output blocked in one write
        for longer than ``output_timeout`` is aborted and its queue left undelivered."""
        if self._closed:
            return
        self._closed = True
        pending = list(self._workers)  # still to receive _STOP (a stuck output's queue may be full)
        deadline = None if timeout is None else time.monotonic() + timeout * len(self._workers)
        aborted: dict[_Worker, float] = {}
        while True:
            for w in list(pending):
                try:
                    w.queue.put_nowait(_STOP)
                    pending.remove(w)
                except queue.Full:
                    pass
            now = time.monotonic()
            waiting = []
            for w in self._workers:
                if not w.thread.is_alive():
                    continue
                if w in aborted:
                    if now - aborted[w] < 1.0:  # grace for the aborted write to return
                        waiting.append(w)
                    continue
                since = w.busy_since
                if since is not None and now - since > self._timeout:
                    n = sum(1 for i in list(w.queue.queue) if isinstance(i, Message))
                    log.error("%s output: blocked for %.1f s at exit, giving up (%d alerts undelivered)",
                              w.output.name, now - since, n)
                    w.undelivered = n
                    w.abort()
                    aborted[w] = now
                waiting.append(w)
            if not waiting or (deadline is not None and now >= deadline):
                break
            waiting[0].thread.join(0.05)
        for w in self._workers:
            if w.thread.is_alive():
                log.error("%s output: still blocked at exit, %d alerts undelivered",
                          w.output.name, w.queue.qsize())
