"""program_output: each alert, one per line, on the standard input of a program
run by /bin/sh (as upstream's popen). The alert is only ever data on stdin, never
part of the command line, so alert fields cannot inject shell commands. The program
runs in its own process group, so that a program stuck without reading its stdin
can be ended with everything it started (``abort``, at exit)."""

from __future__ import annotations

import os
import signal
import subprocess

from .base import Message, Output


class ProgramOutput(Output):
    name = "program"

    def __init__(self, program: str, keep_alive: bool = False, buffered: bool = False) -> None:
        self._program = program
        self._keep_alive = keep_alive
        self._buffered = buffered
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            self._proc = subprocess.Popen(["/bin/sh", "-c", self._program], stdin=subprocess.PIPE,
                                          bufsize=-1 if self._buffered else 0, process_group=0)
        return self._proc

    def write(self, msg: Message) -> None:
        proc = self._start()
        assert proc.stdin is not None
        try:
            proc.stdin.write(msg.text.encode("utf-8", "replace") + b"\n")
            if not self._buffered:
                proc.stdin.flush()
        except BrokenPipeError:
            self.close()
            raise OSError(f"program exited before reading the alert: {self._program}") from None
        if not self._keep_alive:
            self.close()

    def reopen(self) -> None:
        self.close()

    def close(self) -> None:
        if self._proc is not None:
            proc, self._proc = self._proc, None
            try:
                if proc.stdin is not None:
                    proc.stdin.close()
            except BrokenPipeError:
                pass
            proc.wait()

    def abort(self) -> None:
        proc = self._proc
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
