"""libsinsp: system state (threads, fds, users, containers), event parsers, field
classes, the filter language and the output formatter, on top of libscap events."""

from libsinsp.inspector import Inspector

__all__ = ["Inspector"]
