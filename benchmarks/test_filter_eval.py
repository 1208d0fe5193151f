"""Filter language speed (issue 5): evaluation in ns per event on real events, next to
the cost of extracting the same fields alone; generated code vs a closure tree; and
parse+compile of every condition of the official rules, cold and with built tables.

Events: curl_google.scap replayed once through the Inspector (state as parsed); each
exit event is kept as its own SinspEvent (evt, tinfo, fd) so the benchmark loop runs
only the filter. Parameters decode lazily and stay cached on the event, so after the
first round the figures are steady-state. ns/event = round time / number of events,
read from ``extra_info`` (``make bench`` prints them).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from filter_closures import compile_closures  # noqa: E402

import libsinsp.filter.parser as filter_parser  # noqa: E402
from libsinsp.event import SinspEvent  # noqa: E402
from libsinsp.fields import registry  # noqa: E402
from libsinsp.filter import ast, compile_filter, parse  # noqa: E402
from libsinsp.inspector import Inspector  # noqa: E402

CAPTURES = Path(__file__).resolve().parents[2] / "shared" / "captures"
RULES = Path(__file__).resolve().parents[2] / "shared" / "rules"

NAMES30 = ["curl", "bash", "sh", "zsh", "ksh", "dash", "fish", "sshd", "nginx", "httpd",
           "mysqld", "postgres", "redis-server", "java", "python3", "node", "ruby", "perl",
           "php-fpm", "containerd", "dockerd", "kubelet", "systemd", "cron", "rsyslogd",
           "sudo", "su", "login", "agetty", "tmux"]
PREFIXES50 = ["/proc", "/sys", "/dev/shm", "/run/secrets", "/var/run/docker.sock", "/boot",
              "/root/.ssh", "/home/admin/.ssh", "/usr/local/bin", "/usr/local/sbin", "/opt/bin",
              "/srv", "/mnt", "/media", "/snap", "/var/lib/docker", "/var/lib/kubelet",
              "/var/lib/containerd", "/var/log/audit", "/var/spool/cron", "/etc/cron.d",
              "/etc/sudoers.d", "/etc/pam.d", "/etc/ssh", "/etc/shadow", "/etc/gshadow",
              "/etc/kubernetes", "/etc/docker", "/etc/containerd", "/etc/systemd",
              "/etc/init.d", "/etc/rc.d", "/lib/modules", "/lib/systemd", "/usr/lib/systemd",
              "/usr/lib/modules", "/var/lib/rpm", "/var/lib/dpkg", "/var/cache/apt",
              "/var/lib/apt", "/tmp/.X11-unix", "/dev/mqueue", "/dev/hugepages", "/sys/fs/bpf",
              "/sys/kernel/debug", "/sys/kernel/security", "/etc/nsswitch.conf",
              "/etc/resolv.conf", "/etc/hosts", "/etc/ld.so.cache"]
MIX10 = ("(evt.type in (open, openat) and fd.typechar=f and not fd.name pmatch (/proc, /sys)) "
         "or (evt.type=connect and fd.sport in (53, 80, 443)) "
         "or (proc.name=curl and evt.rawres<0 and user.uid!=0) "
         "or (proc.pname=bash and evt.is_io_write=true) or fd.num>100")

FILTERS = {
    "evt_type_eq": "evt.type = open",
    "proc_name_in_30": f"proc.name in ({', '.join(NAMES30[1:] + NAMES30[:1])})",
    "pmatch_50": f"fd.name pmatch ({', '.join(PREFIXES50)})",
    "mix_10_clauses": MIX10,
}


def _fields(node: ast.Expr, out: dict[tuple[str, str | None], None]) -> None:
    if isinstance(node, (ast.And, ast.Or)):
        for c in node.children:
            _fields(c, out)
    elif isinstance(node, ast.Not):
        _fields(node.child, out)
    else:
        out[(node.left.name, node.left.arg)] = None


@pytest.fixture(scope="module")
def events() -> list[SinspEvent]:
    kept: list[SinspEvent] = []
    insp = Inspector()
    insp.open_file(CAPTURES / "curl_google.scap")
    for s in insp:
        if s.evt.direction != "<":
            continue
        c = SinspEvent(s.inspector)
        c.reset(s.evt, s.num, s.tinfo)
        c.fdinfo = s.fdinfo
        kept.append(c)
    assert len(kept) > 500
    return kept


class DictRegistry:
    """The real registry's field table, but each value read from a dict made once per event
    from the real extractors: isolates the evaluation machinery from extraction cost."""

    def __init__(self, real) -> None:
        self.real = real

    def lookup(self, name):
        return self.real.lookup(name)

    def make_extractor(self, field, arg):
        key = (field.name, arg)
        return lambda e: e.get(key)


@pytest.fixture(scope="module")
def dict_events(events) -> list[dict]:
    reg = registry()
    used: dict[tuple[str, str | None], None] = {}
    for text in FILTERS.values():
        _fields(parse(text), used)
    xs = {k: reg.make_extractor(reg.lookup(k[0]), k[1]) for k in used}
    return [{k: x(e) for k, x in xs.items()} for e in events]


def _run(fn, evs) -> int:
    n = 0
    for e in evs:
        if fn(e):
            n += 1
    return n


def _per_event(benchmark, n: int) -> None:
    benchmark.extra_info["events"] = n
    if benchmark.stats is None:  # benchmarks disabled (plain test run): nothing timed
        return
    benchmark.extra_info["ns_per_event"] = round(benchmark.stats.stats.median * 1e9 / n, 1)


@pytest.mark.parametrize("kind", ["generated", "closures", "extract_only"])
@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("source", ["real", "dict"])
def test_filter_eval(benchmark, request, source: str, name: str, kind: str) -> None:
    """source=real: SinspEvents and libsinsp's extractors; source=dict: the same values
    pre-extracted into dicts (extraction is then one dict lookup)."""
    tree = parse(FILTERS[name])
    if source == "real":
        reg, events = registry(), request.getfixturevalue("events")
    else:
        reg, events = DictRegistry(registry()), request.getfixturevalue("dict_events")
    gen = compile_filter(tree, reg)
    clo = compile_closures(tree, reg)
    assert [gen(e) for e in events] == [clo(e) for e in events]  # same answers
    if kind == "extract_only":
        used: dict[tuple[str, str | None], None] = {}
        _fields(tree, used)
        xs = tuple(reg.make_extractor(reg.lookup(f), a) for f, a in used)
        if len(xs) == 1:
            fn = xs[0]
        else:
            def fn(e, xs=xs):  # every field of the filter, once
                for x in xs:
                    x(e)
    else:
        fn = gen if kind == "generated" else clo
    benchmark(_run, fn, events)
    _per_event(benchmark, len(events))


def _official_conditions() -> tuple[list[str], list[tuple[str, str]]]:
    """(rule conditions, (macro name, condition)) with lists substituted as text, as the
    rules loader does before parsing."""
    from falco_engine.compile import substitute_list

    items = []
    for f in ("falco_rules.yaml", "falco-incubating_rules.yaml"):
        items += yaml.safe_load((RULES / f).read_text())
    lists: dict[str, list[str]] = {}
    for i in items:
        if "list" in i:
            vals: list[str] = []
            for v in i["items"]:
                vals.extend(lists.get(str(v), [str(v)]))
            lists[i["list"]] = vals

    def subst(cond: str) -> str:
        for lname, vals in lists.items():
            cond, _ = substitute_list(cond, lname, vals)
        return cond

    rules = [subst(i["condition"]) for i in items if "rule" in i]
    macros = [(i["macro"], subst(i["condition"])) for i in items if "macro" in i]
    return rules, macros


def _parse_compile_all(rules: list[str], macros: list[tuple[str, str]]) -> int:
    reg = registry()
    parsed = {name: parse(cond) for name, cond in macros}
    for cond in rules:
        compile_filter(parse(cond), reg, macros=parsed)
    return len(rules) + len(macros)


@pytest.mark.skipif(not (RULES / "falco_rules.yaml").exists(), reason="official rules not present")
@pytest.mark.parametrize("tables", ["cold", "built"])
def test_parse_compile_official_rules(benchmark, tables: str) -> None:
    rules, macros = _official_conditions()
    assert len(rules) == 56
    if tables == "cold":
        def reset():
            filter_parser._parser = None  # LALR tables rebuilt inside the timed call
        n = benchmark.pedantic(_parse_compile_all, (rules, macros), setup=reset, rounds=10)
    else:
        _parse_compile_all(rules, macros)
        n = benchmark(_parse_compile_all, rules, macros)
    benchmark.extra_info["conditions"] = n
