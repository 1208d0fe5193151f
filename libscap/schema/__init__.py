"""The PPM event schema of falcosecurity/libs, loaded from ``event_table.json``.

``event_table.json`` is the ONE place the schema lives: event types with their
name, category, flags and parameters (name, PT_* type, PF_* print format and the
flag table / dirfd / dynamic-parameter table they refer to), the flag tables used
to render values, the ppm_sc syscall codes, the x86_64 syscall table and the
savefile conversion rules for old event layouts. The Python decoder reads it here;
``libscap.schema.c_header`` generates the C header the driver compiles against.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

_DATA: dict[str, Any] = json.loads(
    resources.files(__name__).joinpath("event_table.json").read_text(encoding="utf-8")
)

SCHEMA_VERSION: str = _DATA["schema_version"]


def _strip(prefix: str, table: dict[str, int]) -> dict[str, int]:
    return {name[len(prefix):]: value for name, value in table.items()}


_CONST = _DATA["constants"]
#: Parameter types (``PT.FD`` is upstream's ``PT_FD``).
PT = enum.IntEnum("PT", _strip("PT_", _CONST["param_types"]))
#: Print formats (``PF.HEX`` is ``PF_HEX``).
PF = enum.IntEnum("PF", _strip("PF_", _CONST["print_formats"]))
#: Event flags (``EF.CREATES_FD`` is ``EF_CREATES_FD``).
EF = enum.IntFlag("EF", _strip("EF_", _CONST["event_flags"]))
#: Event categories; the low 6 bits hold one syscall category, the high bits flags.
EC = enum.IntEnum("EC", _strip("EC_", _CONST["categories"]))
#: Syscall table flags (``UF.NEVER_DROP``).
UF = enum.IntFlag("UF", _strip("UF_", _CONST["syscall_flags"]))
#: Event type codes (``PPME.SYSCALL_OPEN_X`` is 3).
PPME = enum.IntEnum("PPME", {e["code"][len("PPME_"):]: e["id"] for e in _DATA["events"]})

PPM_EVENT_MAX: int = len(_DATA["events"])
EVENT_HEADER_LEN = 26  # u64 ts, u64 tid, u32 len, u16 type, u32 nparams (packed, LE)


def _combine(names: str, table: dict[str, int], prefix: str) -> int:
    return sum(table[n] for n in names.split("|") if n and n != prefix + "NONE")


@dataclass(frozen=True, slots=True)
class ParamInfo:
    """One event parameter: name, PT_* type, PF_* print format and its ``info``
    (flag table name for flags, dirfd parameter index for PT_FSRELPATH, dynamic
    parameter table name for PT_DYN, else None)."""

    name: str
    type: PT
    fmt: PF
    info: str | int | None = None


@dataclass(frozen=True, slots=True)
class EventInfo:
    """One entry of the event table."""

    id: int
    code: str
    name: str
    category: int
    flags: EF
    params: tuple[ParamInfo, ...]
    #: parameter name -> index, for lookups by name (first of a repeated name)
    param_positions: dict[str, int] = field(hash=False, compare=False, repr=False)

    @property
    def is_enter(self) -> bool:
        return self.id & 1 == 0

    @property
    def direction(self) -> str:
        """``>`` for enter events and ``<`` for exit events, as sysdig prints them."""
        return ">" if self.id & 1 == 0 else "<"

    @property
    def large_payload(self) -> bool:
        """Parameter lengths are u32 instead of u16 (EF_LARGE_PAYLOAD)."""
        return bool(self.flags & EF.LARGE_PAYLOAD)


def _param(raw: list) -> ParamInfo:
    return ParamInfo(raw[0], PT[raw[1][3:]], PF[raw[2][3:]], raw[3] if len(raw) > 3 else None)


EVENTS: tuple[EventInfo, ...] = tuple(
    EventInfo(
        id=e["id"],
        code=e["code"],
        name=e["name"],
        category=_combine(e["category"], _CONST["categories"], "EC_"),
        flags=EF(_combine(e["flags"], _CONST["event_flags"], "EF_")),
        params=tuple(_param(p) for p in e["params"]),
        param_positions={name: i for i, name in reversed(list(enumerate(p[0] for p in e["params"])))},
    )
    for e in _DATA["events"]
)

#: Flag/enum tables used to render values: name -> ((flag name, value), ...).
FLAG_TABLES: dict[str, tuple[tuple[str, int], ...]] = {
    name: tuple((n, v) for n, v in entries) for name, entries in _DATA["flag_tables"].items()
}

#: PT_DYN parameter tables: name -> the ParamInfo chosen by the dynamic index.
DYNAMIC_PARAMS: dict[str, tuple[ParamInfo, ...]] = {
    name: tuple(_param(p) for p in entries) for name, entries in _DATA["dynamic_params"].items()
}

#: ppm_sc code -> lower-case syscall name ('' where the code is unused).
PPM_SC_NAMES: dict[int, str] = {code: name for name, code in _DATA["ppm_sc"]}


@dataclass(frozen=True, slots=True)
class SyscallInfo:
    """One x86_64 syscall: its number, ppm_sc name, UF_* flags and event pair."""

    nr: int
    name: str
    flags: UF
    enter: int
    exit: int


SYSCALLS_X86_64: dict[int, SyscallInfo] = {
    nr: SyscallInfo(nr, name, UF(_combine(flags, _CONST["syscall_flags"], "UF_")), PPME[enter[5:]], PPME[ex[5:]])
    for nr, name, flags, enter, ex in _DATA["syscalls_x86_64"]
}

#: Savefile conversion rules (see libscap.savefile.converter), as stored in the data.
CONVERSIONS: tuple[dict[str, Any], ...] = tuple(_DATA["conversions"])

#: Named integer constants exported to the generated C header, by group.
CONSTANT_GROUPS: dict[str, dict[str, int]] = dict(_CONST)

