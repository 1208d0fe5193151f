"""``python -m libscap print`` as a subprocess on the shared captures."""

from __future__ import annotations

import gzip
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

from conftest import CAPTURE_EVENT_COUNTS, CAPTURES


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "libscap", *args], capture_output=True, text=True,
                          timeout=120)


def test_raw_mode_prints_one_line_per_event_as_sysdig_counts(shared_capture: Path):
    res = run("print", str(shared_capture))
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == CAPTURE_EVENT_COUNTS[shared_capture.stem]
    assert res.stderr == ""


def test_text_line_layout():
    res = run("print", "-n", "3", str(CAPTURES / "cat_write.scap"))
    lines = res.stdout.splitlines()
    assert len(lines) == 3
    # sysdig -r cat_write.scap: "133 16:17:57.881754223 0 cat (20072) < brk res=926000 vm_size=360 vm_rss=4 vm_swap=0"
    assert lines[2].split(" ") == ["133", "1470327477881754223", "0", "20072", "<", "brk",
                                   "res=926000", "vm_size=360", "vm_rss=4", "vm_swap=0"]


def test_converted_json():
    res = run("print", "--converted", "--json", str(CAPTURES / "cat_write.scap"))
    assert res.returncode == 0, res.stderr
    objs = [json.loads(line) for line in res.stdout.splitlines()]
    enters = {o["type"] for o in objs if o["dir"] == ">"}
    assert objs and enters <= {"open", "switch", "procexit"}  # those current libs lets through
    opens = [o for o in objs if o["type"] == "open" and o["dir"] == "<"]
    # sysdig: "< open fd=3(<f>/etc/ld.so.cache) name=/etc/ld.so.cache flags=4097(O_RDONLY|O_CLOEXEC) mode=0"
    assert {"fd": "3", "name": "/etc/ld.so.cache", "flags": "4097(O_RDONLY|O_CLOEXEC)", "mode": "0",
            "dev": "<NA>", "ino": "<NA>"} in [o["params"] for o in opens]
    reads = [o["params"] for o in objs if o["type"] == "read"]
    # the read exit now carries its enter's fd and size (sysdig: "> read fd=3(...) size=832")
    assert any(p["res"] == "832" and p["fd"] == "3" and p["size"] == "832" for p in reads)


def test_internal_events_on_request():
    res = run("print", "--internal", "-n", "1", str(CAPTURES / "cat_write.scap"))
    assert res.stdout.split(" ")[5] == "procinfo"


def test_missing_file():
    res = run("print", "/nonexistent/x.scap")
    assert res.returncode == 1
    assert "/nonexistent/x.scap" in res.stderr and "Traceback" not in res.stderr


def test_corrupted_capture(tmp_path: Path):
    raw = bytearray(gzip.open(CAPTURES / "cat_write.scap").read())
    # Third block: give it a length shorter than a block header.
    off = 0
    for _ in range(2):
        off += struct.unpack_from("<I", raw, off + 4)[0]
    struct.pack_into("<I", raw, off + 4, 7)
    bad = tmp_path / "bad.scap"
    bad.write_bytes(bytes(raw))
    for mode in ([], ["--converted"]):
        res = run("print", *mode, str(bad))
        assert res.returncode == 1
        assert str(bad) in res.stderr
        where = re.search(r"offset (\d+)", res.stderr)
        assert where and off <= int(where.group(1)) < off + 8  # within the bad block's header
        assert "Traceback" not in res.stderr


def test_truncated_capture(tmp_path: Path):
    raw = gzip.open(CAPTURES / "curl_google.scap").read()
    bad = tmp_path / "half.scap"
    bad.write_bytes(raw[:len(raw) // 2])
    res = run("print", str(bad))
    assert res.returncode == 1
    assert str(bad) in res.stderr and "offset" in res.stderr and "Traceback" not in res.stderr
    assert res.stdout  # what could be read was printed before the error


def test_console_script_is_installed_and_runs():
    import sysconfig

    script = Path(sysconfig.get_path("scripts")) / "libscap"
    assert script.exists(), f"{script} missing: pip install -e . installs the console script"
    res = subprocess.run([str(script), "print", "-n", "2", str(CAPTURES / "cat_write.scap")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and len(res.stdout.splitlines()) == 2, res.stderr
