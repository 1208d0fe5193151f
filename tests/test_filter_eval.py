"""Compiled filters over fake dict events; every expected result is hand-written."""

from __future__ import annotations

import pytest

from libsinsp.filter import FilterCompileError, compile_filter, compile_matcher, event_types, parse
from test_filter_fakes import Counting, FakeRegistry

EV = {
    "evt.type": "openat",
    "evt.num": 5,
    "evt.rawres": -2,
    "evt.buffer": b"\x7fELF\x02\x01",
    "evt.is_open_write": True,
    "evt.args": {"fd": "3", 0: "3", "name": "/etc/passwd"},
    "proc.name": "Bash",
    "proc.pname": "sshd",
    "proc.pid": 1234,
    "proc.aname": ["sshd", "systemd"],
    "proc.args": "-c ls",
    "fd.name": "/etc/ssh/sshd_config",
    "fd.sip": "10.1.2.3",
    "fd.net": "2001:db8::1",
    "fd.sport": 443,
    "fd.types": ["ipv4", "file"],
    "evt.ratio": 0.5,
}

CASES = [
    ("evt.type = openat", True),
    ("evt.type == open", False),
    ("evt.type != open", True),
    ("proc.pid = 1234", True),
    ("proc.pid < 1234", False),
    ("proc.pid <= 1234", True),
    ("proc.pid > 1000", True),
    ("proc.pid >= 1235", False),
    ("evt.rawres < 0", True),
    ("evt.ratio > 0.25", True),
    ("proc.pid in (1, 1234)", True),
    ("proc.name contains as", True),
    ("proc.name contains AS", False),
    ("proc.name icontains AS", True),
    ("proc.name startswith Ba", True),
    ("proc.name startswith ba", False),
    ("proc.name endswith sh", True),
    ("fd.name glob /etc/*", True),  # '*' crosses '/'
    ("fd.name glob /etc/ssh/sshd_confi?", True),
    ("fd.name glob '/etc/[st]sh/*'", True),
    ("fd.name glob '/etc/[!s]sh/*'", False),
    ("fd.name glob /ETC/*", False),
    ("fd.name iglob /ETC/*", True),
    ("fd.name regex '/etc/.*_config'", True),
    ("fd.name regex 'ssh'", False),  # must match the whole value
    ("evt.buffer bcontains 454c46", True),
    ("evt.buffer bcontains 454c47", False),
    ("evt.buffer bstartswith 7f45", True),
    ("evt.buffer bstartswith 45", False),
    ("proc.name bcontains 6173", True),
    ("proc.name in (zsh, Bash)", True),
    ("proc.name in (zsh, bash)", False),
    ("fd.name pmatch (/etc/ssh)", True),
    ("fd.name pmatch (/etc/ss)", False),
    ("fd.name pmatch (/usr, /etc/)", True),
    ("fd.name pmatch (/etc/ssh/sshd_config)", True),
    ("fd.types intersects (file, unix)", True),
    ("fd.types intersects (unix)", False),
    ("fd.types in (ipv4, file, unix)", True),
    ("fd.types in (ipv4)", False),
    ("fd.sip = 10.1.2.3", True),
    ("fd.sip != 10.1.2.3", False),
    ("fd.sip in (10.1.2.4, 10.1.2.3)", True),
    ("fd.net = 2001:db8::/32", True),
    ("fd.net = 10.0.0.0/8", False),
    ("fd.net in (10.0.0.0/8, 2001:db8::/64)", True),
    ("fd.sport = 443", True),
    ("evt.is_open_write = true", True),
    ("evt.is_open_write = false", False),
    ("proc.aname[1] = sshd", True),
    ("proc.aname[2] = systemd", True),
    ("proc.aname[3] exists", False),
    ("proc.aname = sshd", True),
    # no index: any ancestor (upstream's compare_full_aname)
    ("proc.aname = systemd", True),
    ("proc.aname in (init, systemd)", True),
    ("proc.aname startswith sys", True),
    ("proc.aname = init", False),
    ("proc.aname != sshd", True),
    ("not proc.aname = systemd", False),
    ("evt.arg.name = /etc/passwd", True),
    ("evt.arg[0] = 3", True),
    ("evt.arg.missing exists", False),
    ("fd.name exists", True),
    ("proc.env exists", False),
    ("proc.env = x", False),
    ("proc.env != x", False),  # a missing value makes every check false
    ("not proc.env = x", True),
    ("proc.name contains oneof (zz, as)", True),
    ("proc.name contains anyof (zz, yy)", False),
    ("proc.name contains allof (B, sh)", True),
    ("proc.name contains allof (B, zz)", False),
    ("tolower(proc.name) = bash", True),
    ("toupper(proc.name) = BASH", True),
    ("basename(fd.name) = sshd_config", True),
    ("len(proc.name) = 4", True),
    ("len(fd.types) = 2", True),
    ('concat(proc.name, "-", proc.pid) = Bash-1234', True),
    ('join("/", (proc.pname, proc.name)) = sshd/Bash', True),
    ("proc.pname = val(proc.aname[1])", True),
    ("proc.name = val(proc.pname)", False),
    ("proc.name icontains val(proc.pname)", False),
    ("proc.name in ()", False),
    ("not proc.name in ()", True),
    ("evt.type = openat and proc.name = Bash and fd.name startswith /etc", True),
    ("evt.type = open or proc.name = Bash", True),
    ("(evt.type = open or proc.name = zsh) and fd.name exists", False),
    ("not (evt.type = open or proc.name = zsh)", True),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[t for t, _ in CASES])
def test_eval(text: str, expected: bool) -> None:
    assert compile_filter(parse(text), FakeRegistry())(EV) is expected


def test_b64() -> None:
    f = compile_filter(parse("b64(proc.args) = hello"), FakeRegistry())
    assert f({"proc.args": "aGVsbG8="}) is True
    assert f({"proc.args": "!!"}) is False


def test_missing_fields_are_false() -> None:
    for text in ("proc.name = x", "proc.name != x", "proc.pid < 3", "fd.sip = 1.2.3.4",
                 "fd.types intersects (a)", "proc.name contains x", "fd.name pmatch (/)"):
        assert compile_filter(parse(text), FakeRegistry())({}) is False, text


def test_each_field_extracted_once_and_short_circuit() -> None:
    reg = Counting()
    f = compile_filter(parse("proc.name = a or proc.name = b or proc.name contains as"), reg)
    assert f(EV) is True and reg.calls == 1
    reg2 = Counting()
    g = compile_filter(parse("evt.type = open and proc.name = Bash"), reg2)
    assert g(EV) is False and reg2.calls == 1  # proc.name never extracted


def test_macros_and_lists() -> None:
    macros = {"m_open": parse("evt.type in (open_calls)"), "m2": parse("m_open and shell")}
    macros["shell"] = parse("proc.name in (shells)")
    lists = {"open_calls": ["open", "openat"], "shells": ["zsh", "more_shells"], "more_shells": ["Bash"]}
    f = compile_filter(parse("m2"), FakeRegistry(), macros=macros, lists=lists)
    assert f(EV) is True
    assert f({**EV, "proc.name": "fish"}) is False



KNOWN = [  # (filter, value with evt.type known to be "openat"); EV has proc.name Bash
    ("evt.type = openat", True),
    ("evt.type = open", False),
    ("evt.type != open and proc.name = Bash", True),
    ("evt.type in (open, openat) and proc.name = zsh", False),
    ("evt.type exists", True),
    ("evt.type startswith open", True),
    ("evt.type pmatch (/x)", False),
    ("toupper(evt.type) = OPENAT", True),
    ("concat(evt.type, evt.type) = openatopenat", True),
    ("evt.type = val(proc.name)", False),
    ("not evt.type = openat or proc.name = Bash", True),
]


@pytest.mark.parametrize(("text", "expected"), KNOWN, ids=[t for t, _ in KNOWN])
def test_known_fields_are_decided_at_compile_time(text: str, expected: bool) -> None:
    reg = Counting()
    ev = {**EV, "evt.type": "something else"}  # would give other answers if it were read
    f = compile_filter(parse(text), reg, known={"evt.type": "openat"})
    assert f(ev) is expected
    assert reg.calls == text.count("proc.name")


def test_known_field_with_argument_is_still_extracted() -> None:
    f = compile_filter(parse("evt.arg.name = /etc/passwd"), FakeRegistry(), known={"evt.arg": "x"})
    assert f(EV) is True


def test_matcher_first_and_all() -> None:
    rules = [(parse("proc.name = zsh"), "a"), (parse("fd.name startswith /etc"), "b"),
             (parse("proc.name = Bash"), "c")]  # fmt: skip
    reg = Counting()
    first = compile_matcher([rules, [(parse("evt.num = 5"), "d")]], reg, first=True)
    assert first(EV) == ("b",) and reg.calls == 2  # proc.name read once for both of its rules
    every = compile_matcher([rules, [(parse("evt.num = 5"), "d")]], FakeRegistry(), first=False)
    assert every(EV) == ["b", "c"]  # the second section runs only when the first had no match
    assert every({**EV, "fd.name": "/", "proc.name": "x"}) == ["d"]
    assert every({"evt.num": 4}) == []
    assert first({"evt.num": 4}) == ()


def test_matcher_shares_fields_and_folds_known() -> None:
    reg = Counting()
    conds = ["evt.type = open and proc.name = x", "evt.type = openat and proc.name = y",
             "evt.type = openat and proc.name = Bash and proc.pid = 1234"]  # fmt: skip
    m = compile_matcher([[(parse(c), i) for i, c in enumerate(conds)]], reg, first=False,
                        known={"evt.type": "openat"})  # fmt: skip
    assert m(EV) == [2]
    assert reg.calls == 2  # proc.name and proc.pid, once each; evt.type never
    assert (m.__doc__ or "").count("    if ") == 2  # the evt.type = open rule is gone


def test_matcher_repeated_subtrees_evaluated_once() -> None:
    shared = "(proc.name = zsh or proc.pname = sshd)"
    conds = [f"{shared} and proc.pid = 1", f"proc.pid = 1234 and {shared}", f"not {shared}"]
    m = compile_matcher([[(parse(c), i) for i, c in enumerate(conds)]], FakeRegistry(), first=False)
    src = m.__doc__ or ""
    # one local for the shared "or", computed up front (rule 0 always evaluates it)
    assert src.count("    b0 = (") == 1 and "b0 = _M" not in src and "b1" not in src
    assert m(EV) == [1]
    assert m({**EV, "proc.pname": "init"}) == [2]
    assert m({**EV, "proc.name": "zsh", "proc.pid": 1}) == [0]


def test_matcher_subtrees_off_the_leading_path_stay_lazy() -> None:
    """A repeated subtree that only a later conjunct uses is evaluated on first use,
    only when reached: a rule's leading conjunct false, it is never computed."""
    calls = []

    class Reg(FakeRegistry):
        def make_extractor(self, field, arg):
            extract = super().make_extractor(field, arg)
            if field.name != "proc.pname":
                return extract
            return lambda e: calls.append(1) or extract(e)

    shared = "(proc.pname = sshd or proc.pname = init)"
    conds = [f"proc.pid = 1 and {shared}", f"proc.name = zsh and {shared}"]
    m = compile_matcher([[(parse(c), i) for i, c in enumerate(conds)]], Reg(), first=False)
    assert "b0 = _M" in (m.__doc__ or "")
    assert m(EV) == [] and calls == []
    assert m({**EV, "proc.pid": 1}) == [0] and len(calls) == 1


def test_matcher_constant_rules() -> None:
    m = compile_matcher([[(parse("evt.type = open"), "never"), (parse("evt.type = openat"), "always")]],
                        FakeRegistry(), first=True, known={"evt.type": "openat"})  # fmt: skip
    assert m({}) == ("always",)

COMPILE_ERRORS = [
    ("foo.bar = 1", 0, "unknown field 'foo.bar'"),
    ("evt.type = x and proc.pid = abc", 28, "invalid value 'abc' for field 'proc.pid' of type int64"),
    ("proc.pid = 0x4d2", 11, "invalid value '0x4d2' for field 'proc.pid' of type int64: not a decimal"),
    ("evt.num = -1", 10, "invalid value '-1' for field 'evt.num' of type uint64"),
    ("proc.pid contains 1", 0, "operator 'contains' is not supported by field 'proc.pid'"),
    ("fd.sip = nothost", 9, "invalid value 'nothost' for field 'fd.sip'"),
    ("evt.buffer bcontains xyz", 21, "not a hex byte string"),
    ("proc.name regex '('", 16, "invalid regular expression"),
    ("evt.is_open_write = yes", 20, "not 'true' or 'false'"),
    ("evt.arg exists", 0, "field 'evt.arg' requires an argument"),
    ("proc.name[1] exists", 0, "field 'proc.name' does not accept an argument"),
    ("proc.aname[x] exists", 0, "requires a numeric index argument, got 'x'"),
    ("fd.types = file", 0, "operator '=' is not supported by field 'fd.types'"),
    ("proc.name glob val(proc.pname)", 15, "does not accept a field on its right-hand side"),
    ("x", 0, "undefined macro 'x'"),
    ("proc.name in nolist", 13, "undefined list 'nolist'"),
    ("getopt(proc.args, x.y) exists", 0, "transformer 'getopt' is not supported"),
    ("len(proc.pid) > 1", 0, "transformer 'len' is not supported on type int64"),
]


@pytest.mark.parametrize(("text", "idx", "message"), COMPILE_ERRORS, ids=[t for t, _, _ in COMPILE_ERRORS])
def test_compile_errors(text: str, idx: int, message: str) -> None:
    with pytest.raises(FilterCompileError) as info:
        compile_filter(parse(text), FakeRegistry())
    assert info.value.pos.idx == idx
    assert message in info.value.reason


class Validating(FakeRegistry):
    """evt.type values must be one of a few names (libsinsp's validate_filter_value)."""

    def validate_value(self, field, arg, value):  # type: ignore[no-untyped-def]
        if field.name == "evt.type" and value not in ("open", "openat"):
            raise ValueError(f"unknown event type {value}")


@pytest.mark.parametrize(("text", "idx"), [
    ("evt.type = nosuch", 11), ("evt.type != nosuch", 12), ("evt.type in (open, nosuch)", 12),
    ("proc.name = a and evt.type startswith op", 38), ("evt.type contains pen", 18),
])  # fmt: skip
def test_registry_rejects_values(text: str, idx: int) -> None:
    with pytest.raises(FilterCompileError, match="unknown event type") as info:
        compile_filter(parse(text), Validating())
    assert info.value.pos.idx == idx


def test_registry_validation_scope() -> None:
    reg = Validating()
    for text in ("evt.type in (open, openat)", "proc.name = nosuch", "toupper(evt.type) = OPEN", "evt.type exists"):
        compile_filter(parse(text), reg)
    macros = {"m": parse("evt.type in (calls)")}
    with pytest.raises(FilterCompileError, match="unknown event type close"):
        compile_filter(parse("m"), reg, macros=macros, lists={"calls": ["open", "close"]})


def test_macro_cycle() -> None:
    with pytest.raises(FilterCompileError, match="references itself"):
        compile_filter(parse("a"), FakeRegistry(), macros={"a": parse("b"), "b": parse("a")})


ALL = ["open", "openat", "read", "execve"]
EVTTYPES = [
    ("evt.type = open", {"open"}),
    ("evt.type == open", {"open"}),
    ("evt.type in (open, openat, nosuch)", {"open", "openat"}),
    ("evt.type != open", {"openat", "read", "execve"}),
    ("not evt.type = open", {"openat", "read", "execve"}),
    ("not evt.type != open", {"open"}),
    ("not evt.type in (open, read)", {"openat", "execve"}),
    ("proc.name = x", "all"),
    ("not proc.name = x", "all"),
    ("evt.type = open and proc.name = x", {"open"}),
    ("evt.type = open or proc.name = x", "all"),
    ("evt.type = open or evt.type = read", {"open", "read"}),
    ("evt.type in (open, read) and evt.type in (read, execve)", {"read"}),
    ("not (evt.type = open or evt.type = read)", {"openat", "execve"}),
    ("not (evt.type = open and proc.name = x)", "all"),
    ("evt.type exists", "all"),
    ("not evt.type exists", set()),
    ("evt.type startswith open", "all"),
    ("evt.num = 0", set()),
    ("evt.num > 0", "all"),
    ("not evt.num > 0", set()),
    ("evt.num = 5 and evt.type = read", {"read"}),
]


@pytest.mark.parametrize(("text", "expected"), EVTTYPES, ids=[t for t, _ in EVTTYPES])
def test_event_types(text: str, expected: object) -> None:
    assert event_types(parse(text), ALL) == expected


def test_event_types_macros_lists_and_errors() -> None:
    macros = {"spawned": parse("evt.type in (proc_calls)")}
    assert event_types(parse("spawned and not proc.name = a"), ALL, macros=macros,
                       lists={"proc_calls": ["execve"]}) == {"execve"}
    with pytest.raises(FilterCompileError, match="right-hand field"):
        event_types(parse("evt.type = val(proc.name)"), ALL)
    with pytest.raises(FilterCompileError, match="transformers"):
        event_types(parse("tolower(evt.type) = open"), ALL)


class _PerCode(FakeRegistry):
    """Specialises per event code: proc.pid is Constant(7) for code 1, missing for code
    2; proc.name reads a per-code key; fd.name is 'cheap'."""

    def make_code_extractor(self, field, arg, code):
        from libsinsp.filter.fields import Constant

        if field.name == "proc.pid":
            return Constant(7 if code == 1 else None)
        if field.name == "proc.name":
            return lambda e: e.get(f"proc.name@{code}")
        return None

    def make_extractor(self, field, arg):
        extract = super().make_extractor(field, arg)
        if field.name != "fd.name":
            return extract

        class Cheap:
            cheap = True

            def __call__(self, e):
                return extract(e)

        return Cheap()


def test_matcher_per_event_code_extractors_and_constants() -> None:
    conds = [(parse("proc.pid = 7 and proc.name = a"), "pid7"), (parse("proc.pid exists"), "has pid")]
    one = compile_matcher([conds], _PerCode(), first=True, event_code=1)
    two = compile_matcher([conds], _PerCode(), first=True, event_code=2)
    assert one({"proc.name@1": "a", "proc.pid": 1}) == ("pid7",)  # the constant, not the event's 1
    assert one({"proc.name@1": "b"}) == ("has pid",) and one({"proc.name": "a"}) == ("has pid",)
    assert two({"proc.name@2": "a", "proc.pid": 7}) == ()  # missing on every code-2 event
    assert "proc.pid" not in (two.__doc__ or "") and (two.__doc__ or "").count("    if ") == 0
    general = compile_matcher([conds], _PerCode(), first=True)
    assert general({"proc.name": "a", "proc.pid": 7}) == ("pid7",)


def test_matcher_cheap_fields_are_read_up_front() -> None:
    conds = [(parse("fd.name startswith /tmp"), 0), (parse("fd.name endswith passwd"), 1)]
    m = compile_matcher([conds], _PerCode(), first=False)
    src = m.__doc__ or ""
    assert "    v0 = x0(e)\n" in src and "v0 if v0 is not _M" not in src
    assert m(EV) == [] and m({"fd.name": "/tmp/passwd"}) == [0, 1] and m({}) == []


def test_matcher_repeated_candidate_checks_run_once() -> None:
    """A check over every ancestor (a loop) used by two rules is computed once, the
    candidates are extracted once for all checks; the loop is a helper function, not
    a generator."""
    calls = []

    class Reg(FakeRegistry):
        counted = None

        def make_any_extractor(self, field, arg):
            any_of = super().make_any_extractor(field, arg)
            if any_of is not None and self.counted is None:  # one per field, as libsinsp's
                self.counted = any_of._replace(extract=lambda e: calls.append(1) or any_of.extract(e))
            return None if any_of is None else self.counted

    conds = [(parse("proc.aname = systemd and proc.pid = 1"), 0), (parse("proc.aname = systemd"), 1),
             (parse("proc.aname != systemd"), 2)]  # fmt: skip
    m = compile_matcher([conds], Reg(), first=False)
    src = m.__doc__ or ""
    assert " for a_ in " not in src and "_q" in src
    assert m(EV) == [1, 2] and len(calls) == 1  # "!=": any ancestor other than systemd (sshd)
    assert m({**EV, "proc.aname": ["init"]}) == [2] and len(calls) == 2
