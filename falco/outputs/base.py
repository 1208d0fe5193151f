"""What every output receives and the interface each output implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Message:
    """One alert, already formatted: ``text`` is the line outputs write (Falco's
    text line or its JSON object, per ``json_output``); the other attributes let
    an output choose (syslog level, HTTP content type) without re-parsing."""

    ts: int  #: event time, ns since the epoch
    priority: int  #: 0 (emergency) .. 7 (debug), the syslog levels
    rule: str
    source: str
    text: str
    json: bool = False
    fields: dict[str, Any] = field(default_factory=dict)


class Output(ABC):
    """An alert destination. ``write`` runs on the output's own worker thread
    and may block or raise: the dispatcher logs the error with ``name``."""

    name: str = "output"

    @abstractmethod
    def write(self, msg: Message) -> None:
        """Deliver one alert."""

    def write_many(self, msgs: list[Message]) -> None:
        """Deliver several alerts at once (an output that can, e.g. in one write(2),
        overrides this; the queue then hands it everything queued)."""
        for m in msgs:
            self.write(m)

    def reopen(self) -> None:
        """Close and reopen files/programs (SIGUSR1); no-op by default."""

    def close(self) -> None:
        """Flush and release resources at exit."""

    def abort(self) -> None:
        """Called from another thread when ``write`` has been blocked past the
        outputs' timeout at exit: make the blocked call return (kill the program,
        shut the socket). No-op by default."""
