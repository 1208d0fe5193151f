"""The extractors the rules engine uses per event code (make_code_extractor: Python
ones written for the code, C field readers, Constants) against the general
extractors: on every event of every shared capture, each gives what the field's
general extractor gives (and a C reader what the Python extractor it stands for
gives); plus the cases a reader hands back to Python (another object type,
malformed arguments) and crafted fd rows."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from libscap import _events
from libscap.schema import PPME
from libsinsp import Inspector
from libsinsp.fields import readers, registry
from libsinsp.filter.fields import Constant
from tests.conftest import CAPTURE_EVENT_COUNTS, CAPTURES

#: fields with C readers (per event code, or general); evt.arg.flags/mode are the
#: flags parameters of the open family, evt.arg.res an errno/fd result
FIELDS = ["fd.num", "fd.name", "fd.typechar", "fd.directory", "evt.is_open_read", "evt.is_open_write",
          "evt.arg.flags", "evt.arg.mode", "evt.arg.res", "proc.name", "container.id", "proc.exe",
          "proc.exepath", "proc.tty", "proc.sid", "proc.pgid", "proc.vpgid", "proc.fdlimit", "proc.vmsize",
          "proc.vmrss", "proc.vmswap", "thread.pfmajor", "thread.pfminor"]
OPEN_X, EXECVE_X = int(PPME.SYSCALL_OPEN_X), int(PPME.SYSCALL_EXECVE_19_X)


def _bound(reg, name: str):
    info = reg.lookup(name)
    arg = name[len(info.name) + 1:] if info.name != name else None
    return info, arg


def _code_fields(reg) -> list[str]:
    """Every field with extractors per event code (evt.arg with the parameter names of
    the open, connect and execve families)."""
    names = [f.name for f in reg if f.cls == "fd" and f.info.arg.value == "none"] + ["fd.types"]
    names += ["evt.is_open_read", "evt.is_open_write", "evt.is_open_exec", "evt.is_open_create",
              "evt.res", "evt.rawres", "evt.failed"]
    names += [f"evt.arg.{p}" for p in ("fd", "res", "name", "flags", "mode", "dirfd", "tuple", "exe", "dev")]
    names += ["evt.arg.0", "evt.arg.1", "evt.arg.5"]  # by position
    return [n for n in names if reg.make_code_extractor(*_bound(reg, n), OPEN_X) is not None]


@pytest.mark.parametrize("stem", sorted(CAPTURE_EVENT_COUNTS))
def test_code_extractors_give_what_the_general_ones_give(stem: str) -> None:
    """Python per-code extractors and Constants included (a Constant must be what the
    general extractor gives on every event of its code)."""
    reg = registry()
    bound = {name: _bound(reg, name) for name in _code_fields(reg)}
    assert len(bound) > 50
    general = {name: reg.make_extractor(*b) for name, b in bound.items()}
    per_code: dict[int, dict[str, object]] = {}
    mismatches = []
    with Inspector() as insp:
        insp.open_file(CAPTURES / f"{stem}.scap")
        for sevt in insp:
            code = sevt.evt[5]
            if code not in per_code:
                per_code[code] = {n: reg.make_code_extractor(*b, code) for n, b in bound.items()}
            for name, special in per_code[code].items():
                if special is None:
                    continue
                want = general[name](sevt)
                got = special.value if isinstance(special, Constant) else special(sevt)
                if not (got == want and type(got) is type(want)):
                    mismatches.append((sevt.num, code, name, got, want))
    assert not mismatches[:10]


@pytest.mark.parametrize("stem", sorted(CAPTURE_EVENT_COUNTS))
def test_readers_give_what_the_python_extractors_give(stem: str) -> None:
    reg = registry()
    bound = {name: _bound(reg, name) for name in FIELDS}
    general = {name: reg.make_extractor(*b) for name, b in bound.items()}
    per_code: dict[int, list[tuple[str, object]]] = {}
    compared: Counter[str] = Counter()
    mismatches = []
    with Inspector() as insp:
        insp.open_file(CAPTURES / f"{stem}.scap")
        for sevt in insp:
            code = sevt.evt[5]
            if code not in per_code:  # the reader per code, else the general one when it is a reader
                per_code[code] = [(n, x) for n, b in bound.items()
                                  if isinstance(x := reg.make_code_extractor(*b, code) or general[n],
                                                _events.FieldReader)]
            for name, reader in per_code[code]:
                want = general[name](sevt)
                stands_for = reader.generic(sevt)
                got = reader(sevt)
                compared[name] += 1
                if not (got == want == stands_for and type(got) is type(want)):
                    mismatches.append((sevt.num, name, got, want, stands_for))
    assert not mismatches[:10]
    if stem == "curl_google":  # a capture with files, sockets and opens: every reader ran
        assert set(compared) == set(FIELDS), compared


def test_general_readers_are_c() -> None:
    """proc.name and container.id are C readers for every event; the fd and open-flag
    fields for the events of their codes only (another code: missing, decided when
    compiling)."""
    reg = registry()
    for name in ("proc.name", "container.id"):
        assert isinstance(reg.make_extractor(*_bound(reg, name)), _events.FieldReader)
    assert isinstance(reg.make_code_extractor(*_bound(reg, "fd.directory"), OPEN_X), _events.FieldReader)
    assert reg.make_code_extractor(*_bound(reg, "fd.directory"), EXECVE_X).value is None
    assert reg.make_code_extractor(*_bound(reg, "evt.is_open_read"), EXECVE_X).value is False


def test_other_objects_go_to_the_python_extractor() -> None:
    """Anything but a SinspEvent (a plugin's event view, a test double) is the Python
    extractor's to answer."""
    seen = []
    r = readers.fd_name(lambda e: seen.append(e) or "from python")
    assert r("not an event") == "from python" and seen == ["not an event"]
    r = readers.thread_attr(lambda e: "py", "comm")
    assert r(object()) == "py"


def test_bad_readers_are_refused() -> None:
    with pytest.raises(ValueError):
        _events.FieldReader(0, lambda e: None)
    with pytest.raises(ValueError):
        _events.FieldReader(_events.R_FD_NAME, "not callable")
    with pytest.raises(TypeError):
        _events.FieldReader(_events.R_FD_TYPECHAR, lambda e: None, ["not", "a", "dict"])
    with pytest.raises(AttributeError):
        _events.FieldReader(_events.R_THREAD_ATTR, lambda e: None, "no_such_slot")
    with pytest.raises(TypeError):
        readers.fd_num(lambda e: None)(1, 2)


def test_thread_reader_default_for_an_empty_slot(tmp_path: Path) -> None:
    """container.id: the thread's id, 'host' when it has none."""
    reg = registry()
    extract = reg.make_extractor(*_bound(reg, "container.id"))
    with Inspector() as insp:
        insp.open_file(CAPTURES / "cat_write.scap")
        sevt = next(s for s in insp if s.tinfo is not None)
        sevt.tinfo.container_id = ""
        assert extract(sevt) == "host"
        sevt.tinfo.container_id = "abcdef012345"
        assert extract(sevt) == "abcdef012345"
        sevt.tinfo = None
        assert extract(sevt) is None


@pytest.mark.parametrize("fdtype", ["f", "d", "4", "u", "?", "r"])
@pytest.mark.parametrize("name", ["/", "/etc", "/etc/", "/etc/passwd", "passwd", "", "a/b/", "//x"])
def test_fd_readers_on_crafted_rows(fdtype: str, name: str) -> None:
    """Names and types the captures lack (a trailing slash, no slash, an empty name)
    read the same in C and in Python, on the open event's own row."""
    reg = registry()
    with Inspector() as insp:
        insp.open_file(CAPTURES / "curl_google.scap")
        sevt = next(s for s in insp if s.evt[5] == OPEN_X and s.fdinfo is not None)
        sevt.fdinfo.name, sevt.fdinfo.type = name, fdtype
        for field in ("fd.name", "fd.typechar", "fd.directory", "fd.num"):
            reader = reg.make_code_extractor(*_bound(reg, field), OPEN_X)
            assert isinstance(reader, _events.FieldReader)
            assert reader(sevt) == reg.make_extractor(*_bound(reg, field))(sevt), field


def test_split_arg_reader_caches_texts_and_checks_them() -> None:
    """The split-arg reader asks for a parameter's texts once per distinct value and
    refuses texts that are no (value, resolved) pair."""
    from libsinsp.fields.args import split_text

    asked = []

    def texts(code, i, raw):
        asked.append(raw)
        return split_text(code, i, raw)

    flags_at = 2  # open exit: fd, name, flags
    good = readers.split_arg(lambda e: "python", OPEN_X, flags_at, texts)
    bad = readers.split_arg(lambda e: "python", OPEN_X, flags_at, lambda code, i, raw: "no pair")
    with Inspector() as insp:
        insp.open_file(CAPTURES / "curl_google.scap")
        insp.return_only({OPEN_X})
        values = []
        for s in insp:
            values.append((good(s), s.evt.raw_param(flags_at)))
            if len(values) == 1:
                with pytest.raises(TypeError, match="split text"):
                    bad(s)
        assert len(values) > 20 and all(v.startswith("O_") for v, _ in values)
        assert sorted(asked) == sorted({raw for _, raw in values})  # one call per distinct value


def test_field_types_need_their_slots() -> None:
    """set_field_types refuses classes without the slots readers read, and keeps the
    types it had (readers go on working)."""
    from libsinsp.event import SinspEvent
    from libsinsp.fdinfo import FdInfo

    class NoSlots:
        pass

    with pytest.raises((TypeError, AttributeError)):
        _events.set_field_types(NoSlots, FdInfo, NoSlots, object())
    reader = readers.thread_attr(lambda e: "python", "comm")
    assert reader(SinspEvent(None)) == "python"  # no event yet: Python's to answer
    with Inspector() as insp:
        insp.open_file(CAPTURES / "cat_write.scap")
        sevt = next(s for s in insp if s.tinfo is not None)
        assert reader(sevt) == sevt.tinfo.comm != "python"  # still read in C
