"""Capture engines: sources of live events behind one small interface.

``CaptureEngine`` is what a consumer (the capture tool, libsinsp) relies on;
``modern_bpf.ModernBpfEngine`` is the live engine over the CO-RE probe in driver/.
The savefile reader (libscap.savefile) yields the same ``Event`` objects."""

from __future__ import annotations

from typing import Protocol

from libscap.event import Event


class CaptureEngine(Protocol):
    """open → (configure) → start → next_batch()* → stop → close."""

    def open(self) -> None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def next_batch(self, timeout_ms: int = 100) -> list[Event]: ...
    def close(self) -> None: ...


__all__ = ["CaptureEngine"]
