"""file_output: alerts appended to a file. Without keep_alive the file is opened
and closed per alert (so an external rotation is always honoured); with it the
file stays open until SIGUSR1 asks for a reopen. Alerts queued together are written
together (``write_many``). Text that is no valid Unicode (a plugin's undecodable
bytes, kept as surrogates) is written backslash-escaped, never lost."""

from __future__ import annotations

import os
from typing import TextIO

from .base import Message, Output


class FileOutput(Output):
    name = "file"

    def __init__(self, filename: str, keep_alive: bool = False, buffered: bool = False) -> None:
        self._filename = filename
        self._keep_alive = keep_alive
        self._buffered = buffered
        self._f: TextIO | None = None

    def _open_fd(self) -> int:
        try:
            # created 0600: alerts name users, files and commands; others may not read them
            return os.open(self._filename, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as e:
            raise OSError(f"failed to open output file {self._filename}: {e.strerror}") from None

    def _open(self) -> TextIO:
        if self._f is None:
            self._f = open(self._open_fd(), "a", encoding="utf-8", errors="backslashreplace",
                           buffering=-1 if self._buffered else 1)
        return self._f

    def write(self, msg: Message) -> None:
        self.write_many([msg])

    def write_many(self, msgs: list[Message]) -> None:
        text = "".join(m.text + "\n" for m in msgs)
        if self._keep_alive:
            self._open().write(text)
            return
        # open, write, close: three calls into the kernel and no more (a text file
        # object adds a few), as each lets the capture thread take the interpreter
        # back for a switch interval
        data = memoryview(text.encode("utf-8", "backslashreplace"))
        fd = self._open_fd()
        try:
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)

    def reopen(self) -> None:
        self.close()
        if self._keep_alive:
            self._open()

    def close(self) -> None:
        if self._f is not None:
            f, self._f = self._f, None
            f.close()
