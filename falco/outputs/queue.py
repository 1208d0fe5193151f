"""The outputs queue: alerts leave the capture path at once.

Each output has its own bounded queue and worker thread, so a slow or dead
output (an HTTP endpoint that hangs, a program that stops reading) delays only
itself: capture never waits, and the other outputs keep delivering. When an
output's queue is full the alert is dropped for that output and counted
(upstream logs the first overflow and counts the rest, as here). ``close``
delivers everything already queued before the outputs are closed, which is
what SIGTERM relies on."""

from __future__ import annotations

import logging
import queue
import threading
import time

from .base import Message, Output

log = logging.getLogger("falco")

#: Bound used when outputs_queue.capacity is 0 ("no explicit limit" upstream).
DEFAULT_CAPACITY = 100_000
_STOP = object()
_REOPEN = object()


class _Worker:
    def __init__(self, output: Output, capacity: int, slow_after: float) -> None:
        self.output = output
        self.queue: queue.Queue[object] = queue.Queue(capacity)
        self.drops = 0
        self.delivered = 0
        self.errors = 0
        self._slow_after = slow_after
        self.thread = threading.Thread(target=self._run, name=f"falco-output-{output.name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        out = self.output
        while True:
            item = self.queue.get()
            if item is _STOP:
                break
            start = time.monotonic()
            try:
                if item is _REOPEN:
                    out.reopen()
                else:
                    assert isinstance(item, Message)
                    out.write(item)
                    self.delivered += 1
            except Exception as e:  # any delivery failure is logged, never fatal
                self.errors += 1
                log.error("%s output: %s", out.name, e)
            took = time.monotonic() - start
            if took > self._slow_after:
                log.warning("%s output: blocked for %.1f s", out.name, took)
        try:
            out.close()
        except Exception as e:
            log.error("%s output: %s", out.name, e)


class OutputsQueue:
    """Fan-out of alerts to outputs, each drained by its own thread."""

    def __init__(self, outputs: list[Output], capacity: int = 0, output_timeout_ms: int = 2000) -> None:
        cap = capacity or DEFAULT_CAPACITY
        self._workers = [_Worker(o, cap, output_timeout_ms / 1000) for o in outputs]
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

    def stats(self) -> dict[str, dict[str, int]]:
        """Per output: delivered, errors, drops (for metrics)."""
        return {w.output.name: {"delivered": w.delivered, "errors": w.errors, "drops": w.drops}
                for w in self._workers}

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is queued, then close every output (waits at most
        ``timeout`` seconds per output when given)."""
        if self._closed:
            return
        self._closed = True
        for w in self._workers:
            w.queue.put(_STOP)
        for w in self._workers:
            w.thread.join(timeout)
            if w.thread.is_alive():
                log.error("%s output: still blocked at exit, %d alerts undelivered",
                          w.output.name, w.queue.qsize())
