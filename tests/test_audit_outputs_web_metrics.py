"""falco.yaml keys no other test exercised (audit), checked at the component level:
http_output.echo / max_consecutive_timeouts / insecure / ca_cert / mtls (against a
local TLS server with a throw-away self-signed certificate), webserver's
k8s_healthz_endpoint, and the metrics section's *_enabled, convert_memory_to_mb and
include_empty_values switches."""

from __future__ import annotations

import json
import logging
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from falco.metrics import Metrics, Sources
from falco.outputs import HttpOutput
from falco.webserver import WebServer
from tests.test_falco_outputs import msg, serve, server, url  # noqa: F401  (server is a fixture)


# --- http_output ---------------------------------------------------------------------

@pytest.mark.parametrize("echo", [False, True])
def test_http_echo_logs_the_response(server: ThreadingHTTPServer, caplog: pytest.LogCaptureFixture,
                                     echo: bool) -> None:
    caplog.set_level(logging.INFO, logger="falco")
    HttpOutput(url(server), echo=echo).write(msg(text="x"))
    echoed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("http output response")]
    assert echoed == (["http output response: ok"] if echo else [])
    assert len(server.received) == 1  # type: ignore[attr-defined]


def test_http_max_consecutive_timeouts_retries_then_fails() -> None:
    for srv in serve(delay=0.6):
        out = HttpOutput(url(srv), max_consecutive_timeouts=2, timeout=0.15)
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="timed out 3 times"):
            out.write(msg(text="x"))
        assert time.monotonic() - start < 2.0
        deadline = time.monotonic() + 3
        while len(srv.received) < 3 and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.05)
        assert len(srv.received) == 3  # type: ignore[attr-defined]  # one try + 2 retries


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("certs")
    out = {}
    for name in ("server", "client"):
        cert, key = d / f"{name}.crt", d / f"{name}.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        out[name], out[f"{name}_key"] = cert, key
    return out


def _tls_server(certs: dict[str, Path], require_client: bool) -> Iterator[ThreadingHTTPServer]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs["server"], certs["server_key"])
    if require_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(certs["client"])
    yield from serve(tls=ctx)


def _https(srv: ThreadingHTTPServer) -> str:
    return f"https://127.0.0.1:{srv.server_address[1]}/alerts"


def test_https_verification_insecure_and_ca_cert(certs: dict[str, Path]) -> None:
    for srv in _tls_server(certs, require_client=False):
        with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            HttpOutput(_https(srv), ca_path="").write(msg(text="untrusted"))
        HttpOutput(_https(srv), insecure=True).write(msg(text="insecure"))
        HttpOutput(_https(srv), ca_cert=str(certs["server"])).write(msg(text="ca_cert"))
        HttpOutput(_https(srv), ca_bundle=str(certs["server"])).write(msg(text="ca_bundle"))
        assert [b for _h, b in srv.received] == [b"insecure", b"ca_cert", b"ca_bundle"]  # type: ignore[attr-defined]


def test_https_mtls_sends_the_client_certificate(certs: dict[str, Path]) -> None:
    for srv in _tls_server(certs, require_client=True):
        with pytest.raises(OSError):
            HttpOutput(_https(srv), ca_cert=str(certs["server"])).write(msg(text="no client cert"))
        HttpOutput(_https(srv), ca_cert=str(certs["server"]), mtls=True, client_cert=str(certs["client"]),
                   client_key=str(certs["client_key"])).write(msg(text="mtls"))
        assert [b for _h, b in srv.received] == [b"mtls"]  # type: ignore[attr-defined]


# --- webserver.k8s_healthz_endpoint --------------------------------------------------------

def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


def test_webserver_custom_healthz_endpoint() -> None:
    ws = WebServer({"falco_version": "x"}, port=0, healthz="/ready")
    ws.start()
    try:
        status, body = _get(ws.port, "/ready")
        assert status == 200 and json.loads(body) == {"status": "ok"}
        assert _get(ws.port, "/healthz")[0] == 404
        assert _get(ws.port, "/metrics")[0] == 404  # no metrics callable: no endpoint
        assert json.loads(_get(ws.port, "/versions")[1]) == {"falco_version": "x"}
    finally:
        ws.stop()


# --- metrics switches ------------------------------------------------------------------------

def _sources(rules: dict[str, int] | None = None) -> Sources:
    return Sources(version="9.9.9", engine_name="replay", num_evts=lambda: 7,
                   capture_stats=lambda: {"n_evts": 100, "n_drops": 0},
                   rule_counts=lambda: dict(rules or {"hit": 2, "never": 0}))


def test_metrics_default_snapshot() -> None:
    s = Metrics(_sources()).snapshot()
    assert s["falco.num_evts"] == 7 and s["falco.version"] == "9.9.9"
    assert s["falco.rules.matches_total"] == 2 and s["falco.rules.hit"] == 2
    assert "falco.rules.never" not in s  # empty values left out by default
    assert "scap.n_drops" not in s and s["scap.n_evts"] == 100
    assert "falco.memory_rss_mb" in s and "falco.memory_rss_kb" not in s


def test_metrics_switches_turn_off_their_groups() -> None:
    s = Metrics(_sources(), resource=False, kernel=False, rules=False).snapshot()
    assert not [k for k in s if k.startswith(("scap.", "falco.rules.", "falco.memory_", "falco.cpu_"))]
    assert s["falco.num_evts"] == 7


def test_metrics_include_empty_values_and_kb() -> None:
    s = Metrics(_sources(), include_empty_values=True, convert_memory_to_mb=False).snapshot()
    assert s["falco.rules.never"] == 0 and s["scap.n_drops"] == 0
    assert "falco.memory_rss_mb" not in s
    mb = Metrics(_sources()).snapshot()["falco.memory_rss_mb"]
    # the same process's RSS in kB is about 1024x its size in MB (allow for growth in between)
    assert 0.5 * 1024 * mb < s["falco.memory_rss_kb"] < 2 * 1024 * mb
