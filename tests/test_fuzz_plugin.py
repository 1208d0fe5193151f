"""Fuzzing the plugin boundary with a hostile C plugin (tests/plugins/hostile.c):
events whose header and parameter lengths are whatever the fuzzer wrote, oversized
(1 MiB) and non-UTF-8 strings, lists of odd lengths, addresses of odd sizes, failing
extraction with a non-UTF-8 error text, and get_fields JSON / name / version
strings from the fuzzer. Loading, sourcing, extracting and rendering may only raise
PluginError. The long run is ``python scripts/fuzz.py plugin``.

An input starting with ``E`` is a blob of events ([u32 size][event bytes]...) the
plugin returns; one starting with ``F`` is the text plugin_get_fields returns."""

from __future__ import annotations

import atexit
import os
import random
import shutil
import struct
import tempfile
from functools import lru_cache
from pathlib import Path

from libsinsp.plugin.errors import PluginError
from libsinsp.plugin.manager import PluginManager
from libsinsp.plugin.source import plugin_event
from plugins.build import build_plugin
from tests.fuzz_regressions import execute, mutate_bytes, mutate_text, regression_inputs, run

NAME = "plugin"
FIELDS = ["hostile.str", "hostile.big", "hostile.list", "hostile.num", "hostile.ip", "hostile.fail"]
GOOD_FIELDS = ('[{"type":"string","name":"hostile.str","desc":"d"},'
               '{"type":"uint64","name":"hostile.num","desc":"d","arg":{"isIndex":true}},'
               '{"type":"string","name":"hostile.list","desc":"d","isList":true,"properties":["hidden"]}]')


@lru_cache(maxsize=None)
def library() -> str:
    d = Path(tempfile.mkdtemp(prefix="hostile-plugin-"))
    atexit.register(shutil.rmtree, d, True)
    return str(build_plugin("hostile", d))


def _blob(events: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(e)) + e for e in events)


@lru_cache(maxsize=None)
def seeds() -> list[bytes]:
    payloads = [b"hello", b"\xff\xfe\x00abc", bytes(range(256)), b"", b"\x05\x07" + b"x" * 100]
    evs = [plugin_event(0, p, 1000 + i).buf for i, p in enumerate(payloads)]
    return [b"E" + _blob(evs), b"E" + _blob(evs[:1]), b"F" + GOOD_FIELDS.encode(), b"F[]"]


def mutate(rng: random.Random, data: bytes) -> bytes:
    kind, body = data[:1], data[1:]
    if kind == b"F":
        if rng.random() < 0.5:
            return b"F" + mutate_text(rng, body.decode("utf-8", "replace"),
                                      ['"', "{", "}", "[", "]", ",", ":", "true", "null", '"type"',
                                       '"string"', '"isList"', '"arg"', '"name"', "\u00e9", "1e999"]).encode()
        return b"F" + mutate_bytes(rng, body)
    # events: mostly edit header/length fields of one record, sometimes raw byte mutations
    buf = bytearray(body)
    offs, off = [], 0
    while off + 4 <= len(buf):
        size = struct.unpack_from("<I", buf, off)[0]
        offs.append((off + 4, size))
        off += 4 + size
    if offs and rng.random() < 0.7:
        start, size = rng.choice(offs)
        # ts, tid, len, type, nparams, param lens, plugin id
        at, fmt = rng.choice([(0, "<Q"), (8, "<Q"), (16, "<I"), (20, "<H"), (22, "<I"), (26, "<I"),
                              (30, "<I"), (34, "<I")])
        if at + struct.calcsize(fmt) <= size:
            top = (1 << (8 * struct.calcsize(fmt))) - 1
            struct.pack_into(fmt, buf, start + at, rng.choice((0, 1, 2, 25, 26, 30, 322, 402, 0x1000, top,
                                                                rng.randrange(top + 1))))
        return b"E" + bytes(buf)
    return b"E" + mutate_bytes(rng, bytes(buf))


def target(data: bytes) -> None:
    kind, body = data[:1], data[1:]
    lib = library()
    if kind == b"F":
        os.environb[b"HOSTILE_FIELDS"] = body.replace(b"\0", b"") or b" "
        try:
            m = PluginManager()
            try:
                m.load(lib)
                for f in m.fields():
                    m.make_extractor(f, None)
            except PluginError:
                pass
            finally:
                m.close()
        finally:
            del os.environ["HOSTILE_FIELDS"]
        return
    fd, path = tempfile.mkstemp(suffix=".evts")
    with os.fdopen(fd, "wb") as f:
        f.write(body)
    m = PluginManager()
    try:
        m.load(lib)
        extractors = [m.make_extractor(m.lookup(n), None) for n in FIELDS]
        try:
            with m.open_source("hostile", path) as src:
                for evt in src:
                    m.event_to_string(evt)
                    for x in extractors:
                        try:
                            x(evt)
                        except PluginError:
                            pass
        except PluginError:
            pass
    finally:
        m.close()
        os.unlink(path)


def test_hostile_plugin_only_raises_plugin_error() -> None:
    rep = run(NAME, target, seeds(), mutate, seed=9, max_execs=400)
    assert not rep.findings, rep.findings[0].error


def test_oversized_and_non_utf8_values_come_through() -> None:
    """The fixed corners: a 1 MiB string, non-UTF-8 bytes, the failing field's error."""
    m = PluginManager()
    try:
        m.load(library())
        path = tempfile.mktemp()
        Path(path).write_bytes(_blob([plugin_event(0, b"\x03\x04\xff\xfeok", 5).buf]))
        evt = next(iter(m.open_source("hostile", path)))
        os.unlink(path)
        get = {n: m.make_extractor(m.lookup(n), None) for n in FIELDS[:-1]}
        assert len(get["hostile.big"](evt)) == 1 << 20
        s = get["hostile.str"](evt)
        assert isinstance(s, str) and "ok" in s
        assert len(get["hostile.list"](evt)) == 3
    finally:
        m.close()
    m = PluginManager()  # the failing field alone (one extraction call serves all fields of a plugin)
    try:
        m.load(library())
        try:
            m.make_extractor(m.lookup("hostile.fail"), None)(evt)
            raise AssertionError("hostile.fail did not fail")
        except PluginError as e:
            assert "fails" in str(e)
    finally:
        m.close()


def test_bad_names_and_versions_are_plugin_errors() -> None:
    for var, value in (("HOSTILE_VERSION", b"1.x"), ("HOSTILE_VERSION", b"\xff"), ("HOSTILE_NAME", b"\xff\xfe"),
                       ("HOSTILE_NAME", b""), ("HOSTILE_VERSION", b"")):
        os.environb[var.encode()] = value
        try:
            err = execute(lambda _d: _load_expect_plugin_error(), b"")
            assert err is None, f"{var}={value!r}: {err}"
        finally:
            del os.environ[var]


def _load_expect_plugin_error() -> None:
    m = PluginManager()
    try:
        m.load(library())
    except PluginError:
        pass
    finally:
        m.close()


def test_kept_crashers() -> None:
    for path in regression_inputs(NAME):
        err = execute(target, path.read_bytes())
        assert err is None, f"{path.name}: {err}"


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_repeated_loads_do_not_grow_memory() -> None:
    """Found by the long run (1.3 GB after 54k executions): every load of a C plugin
    leaked cffi's library accessors (~25 kB). 300 load/close cycles now stay flat."""
    for _ in range(30):
        _load_expect_plugin_error()
    before = _rss_kb()
    for _ in range(300):
        _load_expect_plugin_error()
    assert _rss_kb() - before < 2048
