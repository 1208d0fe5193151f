"""The embedded web server: the health endpoint (``k8s_healthz_endpoint``,
/healthz by default), /versions (the JSON of ``falco --version``) and, when
metrics and ``prometheus_metrics_enabled`` are both on, Prometheus /metrics.
Listens on 127.0.0.1:8765 unless configured otherwise; TLS with
``ssl_enabled`` (``ssl_certificate`` holds the certificate and its key, as upstream)."""

from __future__ import annotations

import json
import logging
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("falco")
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4"
#: webserver.listen_port when falco.yaml sets none (upstream's)
DEFAULT_PORT = 8765


class WebServerError(Exception):
    """The server could not start (address in use, bad certificate...)."""


class WebServer:
    """Serves the endpoints on a background thread until ``stop``."""

    def __init__(self, versions: dict[str, Any], *, address: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 healthz: str = "/healthz", metrics: Callable[[], str] | None = None,
                 ssl_certificate: str | None = None) -> None:
        routes: dict[str, tuple[str, Callable[[], bytes]]] = {
            healthz: ("application/json", lambda: b'{"status": "ok"}'),
            "/versions": ("application/json", lambda: json.dumps(versions).encode()),
        }
        if metrics is not None:
            routes["/metrics"] = (PROMETHEUS_CONTENT_TYPE, lambda: metrics().encode())

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                route = routes.get(self.path.split("?", 1)[0])
                if route is None:
                    self.send_error(404)
                    return
                ctype, body = route[0], route[1]()
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt: str, *args: Any) -> None:
                log.debug("webserver: " + fmt, *args)

        try:
            self._server = ThreadingHTTPServer((address, port), Handler)
            if ssl_certificate:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(ssl_certificate)
                self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        except (OSError, ssl.SSLError) as e:
            raise WebServerError(f"cannot start webserver on {address}:{port}: {e}") from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="falco-webserver",
                                        daemon=True)

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
