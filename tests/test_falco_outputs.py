"""Each output delivering for real, and the queue keeping slow outputs off the
capture path."""

from __future__ import annotations

import gzip
import json
import logging
import os
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from falco.outputs import (FileOutput, HttpOutput, Message, Output, OutputsQueue, ProgramOutput,
                           SyslogOutput, build_outputs)
from falco.outputs import OutputConfigError
from falco.configuration import load, DEFAULT_CONFIG


def msg(i: int = 0, text: str | None = None, priority: int = 4, js: bool = False) -> Message:
    return Message(ts=1_700_000_000_000_000_000 + i, priority=priority, rule="R", source="syscall",
                   text=text if text is not None else f"alert {i}", json=js)


def wait_for(pred, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


# --- file ---------------------------------------------------------------------------

def test_file_output_appends_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "events.txt"
    path.write_text("old\n")
    out = FileOutput(str(path), keep_alive=True)
    out.write(msg(1))
    rotated = tmp_path / "events.txt.1"
    path.rename(rotated)
    out.write(msg(2))  # still the open (rotated) file
    out.reopen()
    out.write(msg(3))
    out.close()
    assert rotated.read_text() == "old\nalert 1\nalert 2\n"
    assert path.read_text() == "alert 3\n"


def test_file_output_without_keep_alive_follows_rotation(tmp_path: Path) -> None:
    path = tmp_path / "events.txt"
    out = FileOutput(str(path))
    out.write(msg(1))
    path.rename(tmp_path / "old.txt")
    out.write(msg(2))
    assert path.read_text() == "alert 2\n"


def test_file_output_error_names_file(tmp_path: Path) -> None:
    out = FileOutput(str(tmp_path / "no" / "such" / "dir.txt"))
    with pytest.raises(OSError, match="failed to open output file .*dir.txt"):
        out.write(msg())


# --- program ----------------------------------------------------------------------

def test_program_output_reads_stdin_one_process_with_keep_alive(tmp_path: Path) -> None:
    out_file = tmp_path / "out"
    prog = f'while read -r l; do echo "$$ $l"; done >> {out_file}'
    out = ProgramOutput(prog, keep_alive=True)
    for i in range(3):
        out.write(msg(i))
    out.close()
    lines = out_file.read_text().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["alert 0", "alert 1", "alert 2"]
    assert len({line.split()[0] for line in lines}) == 1


def test_program_output_one_process_per_alert(tmp_path: Path) -> None:
    out_file = tmp_path / "out"
    out = ProgramOutput(f'read -r l; echo "$$ $l" >> {out_file}')
    for i in range(3):
        out.write(msg(i))
    lines = out_file.read_text().splitlines()
    assert len(lines) == 3 and len({line.split()[0] for line in lines}) == 3


def test_program_output_alert_text_is_data(tmp_path: Path) -> None:
    out_file = tmp_path / "out"
    marker = tmp_path / "pwned"
    evil = f"x $(touch {marker}) `touch {marker}`; touch {marker} | touch {marker}"
    out = ProgramOutput(f"cat >> {out_file}")
    out.write(msg(text=evil))
    assert out_file.read_text() == evil + "\n"
    assert not marker.exists()


# --- syslog -----------------------------------------------------------------------

def test_syslog_output_sends_datagrams_with_priority(tmp_path: Path) -> None:
    addr = str(tmp_path / "log.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(addr)
    srv.settimeout(5)
    try:
        out = SyslogOutput(addr)
        out.write(msg(1, priority=4))
        out.write(msg(2, text="crit é", priority=2))
        assert srv.recv(4096) == b"<12>falco: alert 1"
        assert srv.recv(4096) == "<10>falco: crit é".encode()
        out.close()
    finally:
        srv.close()


def test_syslog_output_error_when_no_daemon(tmp_path: Path) -> None:
    out = SyslogOutput(str(tmp_path / "missing.sock"))
    with pytest.raises(OSError, match="cannot send to syslog socket .*missing.sock"):
        out.write(msg())


# --- http -------------------------------------------------------------------------

class Recorder(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]
    delay: float = 0.0

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.delay:
            time.sleep(self.delay)
        self.server.received.append((dict(self.headers), body))  # type: ignore[attr-defined]
        status = 500 if self.path == "/fail" else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def serve(delay: float = 0.0, tls: ssl.SSLContext | None = None) -> Iterator[ThreadingHTTPServer]:
    """A recording HTTP server (HTTPS with ``tls``) answering after ``delay`` s."""
    handler = type("H", (Recorder,), {"delay": delay})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.received = []  # type: ignore[attr-defined]
    if tls is not None:
        srv.socket = tls.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    yield from serve()


@pytest.fixture
def slow_server() -> Iterator[ThreadingHTTPServer]:
    yield from serve(delay=1.0)


def url(srv: ThreadingHTTPServer, path: str = "/alerts") -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}{path}"


@pytest.mark.parametrize("keep_alive", [False, True])
def test_http_output_posts_json(server: ThreadingHTTPServer, keep_alive: bool) -> None:
    out = HttpOutput(url(server), user_agent="tester/1", keep_alive=keep_alive)
    body = json.dumps({"rule": "R", "output": "x", "priority": "Warning"})
    out.write(msg(text=body, js=True))
    out.write(msg(text="plain", js=False))
    out.close()
    (h1, b1), (h2, b2) = server.received  # type: ignore[attr-defined]
    assert json.loads(b1) == {"rule": "R", "output": "x", "priority": "Warning"}
    assert h1["Content-Type"] == "application/json" and h1["User-Agent"] == "tester/1"
    assert (h2["Content-Type"], b2) == ("text/plain", b"plain")


def test_http_output_compresses(server: ThreadingHTTPServer) -> None:
    out = HttpOutput(url(server), compress_uploads=True)
    out.write(msg(text='{"a": 1}', js=True))
    [(headers, body)] = server.received  # type: ignore[attr-defined]
    assert headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(body)) == {"a": 1}


def test_http_output_errors(server: ThreadingHTTPServer) -> None:
    with pytest.raises(OSError, match="answered 500"):
        HttpOutput(url(server, "/fail")).write(msg())
    with pytest.raises(ValueError, match="not an http"):
        HttpOutput("ftp://x/")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_down_and_slow_http_do_not_block_or_lose_other_outputs(
        tmp_path: Path, slow_server: ThreadingHTTPServer, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "events.txt"
    down = HttpOutput(f"http://127.0.0.1:{free_port()}/")
    down.name = "http-down"
    slow = HttpOutput(url(slow_server), keep_alive=True)
    q = OutputsQueue([down, slow, FileOutput(str(path), keep_alive=True)], capacity=100)
    start = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="falco"):
        for i in range(3):
            q.push(msg(i))
        pushed = time.monotonic() - start
        assert wait_for(lambda: path.exists() and path.read_text().count("\n") == 3, 2.0)
        assert len(slow_server.received) < 3  # type: ignore[attr-defined]
        q.close()
    assert pushed < 0.1
    assert path.read_text() == "alert 0\nalert 1\nalert 2\n"
    assert [b for _, b in slow_server.received] == [b"alert 0", b"alert 1", b"alert 2"]  # type: ignore
    errors = [r.getMessage() for r in caplog.records if r.getMessage().startswith("http-down output:")]
    assert len(errors) == 3 and "POST http://127.0.0.1" in errors[0]


# --- queue ------------------------------------------------------------------------

class Blocking(Output):
    name = "blocking"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.got: list[str] = []
        self.closed = False

    def write(self, m: Message) -> None:
        self.entered.set()
        self.release.wait(10)
        self.got.append(m.text)

    def close(self) -> None:
        self.closed = True


def test_queue_overflow_counted_and_never_blocks(caplog: pytest.LogCaptureFixture) -> None:
    out = Blocking()
    q = OutputsQueue([out], capacity=2)
    q.push(msg(0))
    assert out.entered.wait(5)
    with caplog.at_level(logging.ERROR, logger="falco"):
        for i in range(1, 10):
            q.push(msg(i))
    assert q.drops == 7
    assert sum("Outputs queue out of memory" in r.getMessage() for r in caplog.records) == 1
    out.release.set()
    q.close()
    assert out.got == ["alert 0", "alert 1", "alert 2"]
    assert out.closed
    assert q.stats() == {"blocking": {"delivered": 3, "errors": 0, "drops": 7}}


def test_queue_reopen_comes_after_queued_alerts(tmp_path: Path) -> None:
    path = tmp_path / "e.txt"
    q = OutputsQueue([FileOutput(str(path), keep_alive=True)])
    q.push(msg(1))
    assert wait_for(lambda: path.exists() and path.read_text() == "alert 1\n")
    os.rename(path, tmp_path / "e.1")
    q.push(msg(2))
    q.reopen()
    q.push(msg(3))
    q.close()
    assert (tmp_path / "e.1").read_text() == "alert 1\nalert 2\n"
    assert path.read_text() == "alert 3\n"


# --- configuration -> outputs -----------------------------------------------------

def test_build_outputs_from_config(tmp_path: Path) -> None:
    cfg = load(str(DEFAULT_CONFIG), [
        "syslog_output.enabled=false", "file_output.enabled=true", f"file_output.filename={tmp_path}/f",
        "program_output.enabled=true", "http_output.enabled=true", "http_output.url=http://127.0.0.1:1/"])
    assert [o.name for o in build_outputs(cfg)] == ["file", "stdout", "program", "http"]


@pytest.mark.parametrize("opts, key", [
    (["file_output.enabled=true", "file_output.filename="], "file_output.filename"),
    (["program_output.enabled=true", "program_output.program="], "program_output.program"),
    (["http_output.enabled=true"], "http_output.url"),
])
def test_build_outputs_errors_name_the_key(opts: list[str], key: str) -> None:
    with pytest.raises(OutputConfigError, match=key.replace(".", r"\.")):
        build_outputs(load(str(DEFAULT_CONFIG), opts))
