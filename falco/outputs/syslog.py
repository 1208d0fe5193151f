"""syslog_output: alerts as RFC 3164-style datagrams ("<PRI>falco: text") to the
local syslog socket, facility user, the rule priority as the syslog level."""

from __future__ import annotations

import socket

from .base import Message, Output

LOG_USER = 1
DEFAULT_ADDRESS = "/dev/log"


class SyslogOutput(Output):
    name = "syslog"

    def __init__(self, address: str = DEFAULT_ADDRESS, ident: str = "falco") -> None:
        self._address = address
        self._ident = ident
        self._sock: socket.socket | None = None

    def write(self, msg: Message) -> None:
        pri = LOG_USER * 8 + min(max(msg.priority, 0), 7)
        data = f"<{pri}>{self._ident}: {msg.text}".encode("utf-8", "replace")
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self._sock.sendto(data, self._address)
        except OSError as e:
            self.close()  # the daemon may come back: a fresh socket next time
            raise OSError(f"cannot send to syslog socket {self._address}: {e.strerror}") from None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
