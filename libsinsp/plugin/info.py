"""What a plugin declares about itself, the same for C and Python plugins."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from libsinsp.filter.fields import FieldInfo

#: The plugin API version this framework implements (plugin_api.h).
API_VERSION = (3, 12, 0)
#: The reserved source name of kernel events.
SYSCALL_SOURCE = "syscall"

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$")


def parse_semver(text: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) of "X.Y.Z" (pre-release/build suffixes ignored), else None."""
    m = _SEMVER.match(text.strip())
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


class Capabilities(enum.IntFlag):
    """Capabilities detected from the exported symbols (upstream's CAP_* bits)."""

    NONE = 0
    SOURCING = 1 << 0
    EXTRACTION = 1 << 1
    PARSING = 1 << 2
    ASYNC = 1 << 3
    CAPTURE_LISTENING = 1 << 4


@dataclass(frozen=True)
class PluginFieldInfo(FieldInfo):
    """A plugin field: the filter's FieldInfo plus what the plugin API adds.

    ``index`` is the field's position in the plugin's get_fields list (the
    ``field_id`` extraction requests carry); ``arg_index``/``arg_key`` say which
    argument forms the plugin accepts.
    """

    display: str = ""
    add_output: bool = False
    index: int = 0
    arg_index: bool = False
    arg_key: bool = False
    arg_required: bool = False
    properties: tuple[str, ...] = ()


@dataclass
class PluginInfo:
    """Static facts about a loaded plugin (filled at load, before init)."""

    name: str
    version: str
    description: str
    contact: str
    required_api_version: str
    caps: Capabilities
    id: int = 0
    event_source: str = ""
    fields: list[PluginFieldInfo] = field(default_factory=list)
    extract_sources: frozenset[str] = frozenset()
    parse_sources: frozenset[str] = frozenset()
    async_sources: frozenset[str] = frozenset()
    async_events: frozenset[str] = frozenset()

    def compatible(self, sources: frozenset[str], source: str) -> bool:
        """Upstream's rule: an empty list of compatible sources accepts every source."""
        return not sources or source in sources
