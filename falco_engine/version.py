"""Engine version and the "x.y.z" version numbers rules files and plugins use."""

from __future__ import annotations

import re
from dataclasses import dataclass

# like sscanf("%u.%u.%u"): leading blanks allowed before each number, trailing text ignored
_VERSION = re.compile(r"\s*\+?(\d+)\.\s*\+?(\d+)\.\s*\+?(\d+)")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version | None:
        """The version in ``text``, or None when it is not "x.y.z"."""
        m = _VERSION.match(text)
        if m is None:
            return None
        parts = [int(g) for g in m.groups()]
        if any(p >= 2**32 for p in parts):
            return None
        return cls(*parts)

    def compatible_with(self, requested: Version) -> bool:
        """Same major version and not older than ``requested``."""
        return self.major == requested.major and self >= requested

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


#: The engine version whose rules-file semantics this package implements
#: (falco's falco_engine_version.h).
ENGINE = Version(0, 63, 0)
ENGINE_VERSION = str(ENGINE)
