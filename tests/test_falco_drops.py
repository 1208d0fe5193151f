"""syscall_event_drops: thresholds, token bucket, each action, the internal alert."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

from falco.drops import DropManager, TokenBucket
from falco.outputs.internal import internal_message

S = 1_000_000_000


class Counters:
    def __init__(self) -> None:
        self.n_evts = 0
        self.n_drops = 0
        self.n_drops_buffer = 0

    def __call__(self) -> dict[str, int]:
        return {"n_evts": self.n_evts, "n_drops": self.n_drops, "n_drops_buffer": self.n_drops_buffer}


def make(actions: list[str], **kw: Any) -> tuple[DropManager, Counters, list[tuple]]:
    c = Counters()
    emitted: list[tuple] = []
    mgr = DropManager(c, lambda *a: emitted.append(a), actions=actions, **kw)
    return mgr, c, emitted


def second(mgr: DropManager, c: Counters, t: int, evts: int, drops: int) -> bool:
    c.n_evts += evts
    c.n_drops += drops
    c.n_drops_buffer += drops
    return mgr.check(t * S + t)


def test_alert_action_fields_and_threshold() -> None:
    mgr, c, emitted = make(["alert"], threshold=0.1, rate=1, max_burst=10)
    assert mgr.check(0 * S + 1)
    assert second(mgr, c, 2, 1000, 50)  # 5%: below threshold
    assert emitted == []
    assert second(mgr, c, 4, 1000, 200)  # 20%
    [(ts, prio, msg, rule, fields)] = emitted
    assert (ts, prio, rule) == (4 * S + 4, 7, "Falco internal: syscall event drop")
    assert msg == "Falco internal: syscall event drop. 200 system calls dropped in last second."
    assert fields["n_evts"] == "1000" and fields["n_drops"] == "200"
    assert fields["n_drops_buffer_total"] == "200" and fields["n_drops_bug"] == "0"
    assert fields["ebpf_enabled"] == "1"
    assert (mgr.num_drop_events, mgr.num_actions) == (1, 1)


def test_checks_once_per_second_of_event_time() -> None:
    mgr, c, emitted = make(["alert"], threshold=0, rate=100, max_burst=100)
    mgr.check(1)
    c.n_evts, c.n_drops = 10, 5
    assert mgr.check(S // 2)  # not yet a second
    assert emitted == []
    assert mgr.check(S + 2)
    assert len(emitted) == 1


def test_token_bucket_limits_actions() -> None:
    mgr, c, emitted = make(["alert"], threshold=0, rate=0.5, max_burst=1)
    mgr.check(1)
    for t in range(2, 12, 2):  # a drop every 2 s; one token per 2 s, burst 1
        second(mgr, c, t, 100, 50)
    assert mgr.num_drop_events == 5
    assert mgr.num_actions == 5
    mgr2, c2, emitted2 = make(["alert"], threshold=0, rate=0.1, max_burst=2)
    mgr2.check(1)
    for t in range(2, 8):
        second(mgr2, c2, t, 100, 50)
    assert (mgr2.num_drop_events, mgr2.num_actions) == (6, 2)  # burst of 2, then < 1 token gained


def test_token_bucket() -> None:
    b = TokenBucket(rate=1, max_tokens=2)
    assert b.claim(0) and b.claim(0) and not b.claim(0)
    assert b.claim(S) and not b.claim(S)
    assert b.claim(10 * S) and b.claim(10 * S) and not b.claim(10 * S)


def test_exit_log_ignore_actions(caplog: pytest.LogCaptureFixture) -> None:
    mgr, c, emitted = make(["ignore", "log", "exit"], threshold=0.1)
    mgr.check(1)
    with caplog.at_level(logging.DEBUG, logger="falco"):
        assert not second(mgr, c, 2, 10, 5)
    msgs = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert ("DEBUG", "Falco internal: syscall event drop. 5 system calls dropped in last second.") in msgs
    assert ("CRITICAL", "Exiting.") in msgs
    assert emitted == []


def test_simulate_drops_and_print_stats() -> None:
    mgr, c, emitted = make(["alert"], simulate_drops=True, threshold=0.9, rate=10, max_burst=10)
    mgr.check(1)
    second(mgr, c, 2, 100, 0)
    assert emitted and emitted[0][2].startswith("Falco internal: syscall event drop. 1 system calls")
    out = io.StringIO()
    mgr.print_stats(out)
    assert out.getvalue() == ("Syscall event drop monitoring:\n   - event drop detected: 1 occurrences\n"
                              "   - num times actions taken: 1\n")


def test_unknown_action() -> None:
    with pytest.raises(ValueError, match="unknown action"):
        make(["shout"])


def test_internal_message_text_and_json() -> None:
    ts = 1_700_000_000_123_456_789
    m = internal_message(ts, 7, "Falco internal: syscall event drop. 3 system calls dropped in last second.",
                         "Falco internal: syscall event drop", {"n_evts": "10", "ebpf_enabled": "1"},
                         json_output=True, hostname="h1")
    d = json.loads(m.text)
    assert d == {"hostname": "h1", "output": "Falco internal: syscall event drop. 3 system calls dropped "
                 "in last second.", "output_fields": {"ebpf_enabled": "1", "n_evts": "10"},
                 "priority": "Debug", "rule": "Falco internal: syscall event drop", "source": "internal",
                 "time": "2023-11-14T22:13:20.123456789Z"}
    assert m.text.startswith('{"hostname":"h1","output":')
    t = internal_message(ts, 7, "msg", "r", {"n_evts": "10", "ebpf_enabled": "1"}, json_output=False,
                         hostname="h1")
    assert t.text.endswith(': Debug msg (ebpf_enabled="1" n_evts="10")')
    assert t.text[:19].count(":") == 3 and t.text[8] == "." and t.text[18] == ":"
