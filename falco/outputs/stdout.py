"""stdout_output: one alert per line on standard output."""

from __future__ import annotations

import sys

from .base import Message, Output


class StdoutOutput(Output):
    name = "stdout"

    def __init__(self, buffered: bool = False) -> None:
        self._buffered = buffered

    def write(self, msg: Message) -> None:
        sys.stdout.write(msg.text + "\n")
        if not self._buffered:
            sys.stdout.flush()

    def close(self) -> None:
        sys.stdout.flush()
