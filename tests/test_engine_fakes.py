"""Test-only stand-ins for the engine's event, field registry and formatter: dict
events carrying an event code, the fake registry of the filter tests, and a
formatter that substitutes ``%field`` from the dict and rejects unknown fields."""

from __future__ import annotations

import re
from typing import Any

from falco_engine import Engine
from libscap.schema import PPME
from test_filter_fakes import FakeRegistry

_FIELD = re.compile(r"%([a-z][a-z0-9_.]*(?:\[[^\]]*\])?)")


class FakeEvt:
    def __init__(self, etype: int, ts: int) -> None:
        self.type = etype
        self.ts = ts


class FakeEvent(dict):
    """A dict of field values with ``.evt`` (type code and timestamp) like a SinspEvent."""

    def __init__(self, etype: str, fields: dict[str, Any], ts: int = 1_700_000_000_123_456_789) -> None:
        super().__init__(fields)
        self["evt.type"] = PPME[etype].name.split("_")[-2].lower()
        self.evt = FakeEvt(int(PPME[etype]), ts)


class FakeFormatter:
    def __init__(self, fmt: str, registry: FakeRegistry | None = None) -> None:
        self.fmt = fmt
        self.names = _FIELD.findall(fmt)
        reg = registry or FakeRegistry()
        for n in self.names:
            if reg.lookup(n.split("[")[0]) is None:
                raise ValueError(f"invalid formatting token {n}")

    def format(self, evt: dict) -> str:
        return _FIELD.sub(lambda m: str(evt.get(m.group(1), "<NA>")), self.fmt)

    def values(self, evt: dict) -> dict[str, Any]:
        return {n: evt.get(n) for n in self.names}


def fake_engine() -> Engine:
    return Engine(FakeRegistry(), FakeFormatter)
