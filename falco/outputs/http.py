"""http_output: each alert POSTed to a URL (application/json when json_output,
else text/plain), with upstream's options: user_agent, insecure, CA file/bundle/
directory, mutual TLS, echo, compress_uploads (gzip request body), keep_alive
(one persistent connection) and max_consecutive_timeouts (retries on timeout)."""

from __future__ import annotations

import gzip
import http.client
import logging
import socket
import ssl
from urllib.parse import urlsplit

from .base import Message, Output

log = logging.getLogger("falco")


class HttpOutput(Output):
    name = "http"

    def __init__(self, url: str, *, user_agent: str = "falcosecurity/falco", insecure: bool = False,
                 ca_cert: str = "", ca_bundle: str = "", ca_path: str = "", mtls: bool = False,
                 client_cert: str = "", client_key: str = "", echo: bool = False,
                 compress_uploads: bool = False, keep_alive: bool = False,
                 max_consecutive_timeouts: int = 5, timeout: float = 10.0) -> None:
        if len(url) >= 2 and url[0] == url[-1] and url[0] in "'\"":
            url = url[1:-1]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"http_output.url is not an http(s) URL: {url!r}")
        self._url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._user_agent = user_agent
        self._echo = echo
        self._compress = compress_uploads
        self._keep_alive = keep_alive
        self._retries = max_consecutive_timeouts
        self._timeout = timeout
        self._ssl: ssl.SSLContext | None = None
        if self._https:
            ctx = ssl.create_default_context(cafile=ca_cert or ca_bundle or None,
                                             capath=None if (ca_cert or ca_bundle) else (ca_path or None))
            if insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if mtls:
                ctx.load_cert_chain(client_cert, client_key or None)
            self._ssl = ctx
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout,
                                                         context=self._ssl)
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        return self._conn

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
        conn = self._connection()
        try:
            conn.request("POST", self._path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.reason, resp.read()
        except BaseException:
            self.close()
            raise
        finally:
            if not self._keep_alive:
                self.close()

    def write(self, msg: Message) -> None:
        body = msg.text.encode("utf-8", "replace")
        headers = {"Content-Type": "application/json" if msg.json else "text/plain",
                   "User-Agent": self._user_agent}
        if self._compress:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        if not self._keep_alive:
            headers["Connection"] = "close"
        for attempt in range(self._retries + 1):
            try:
                status, reason, payload = self._post(body, headers)
                break
            except TimeoutError:
                if attempt == self._retries:
                    raise TimeoutError(f"{self._url}: timed out {attempt + 1} times") from None
            except (OSError, http.client.HTTPException) as e:
                raise OSError(f"POST {self._url} failed: {e}") from None
        if self._echo and payload:
            log.info("http output response: %s", payload.decode("utf-8", "replace"))
        if status >= 400:
            raise OSError(f"POST {self._url} answered {status} {reason}")

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def abort(self) -> None:
        conn = self._conn
        sock = getattr(conn, "sock", None) if conn is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
