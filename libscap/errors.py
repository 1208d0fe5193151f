"""The one exception type of libscap: every malformed capture or event ends here."""

from __future__ import annotations


class ScapError(Exception):
    """A capture or event that cannot be read, with where it went wrong.

    ``path`` is the file (or source) name and ``offset`` the byte offset in it
    (for gzip files: in the decompressed stream) at which the fault was found.
    """

    def __init__(self, message: str, path: str | None = None, offset: int | None = None):
        self.message = message
        self.path = path
        self.offset = offset
        where = ""
        if path is not None:
            where = f"{path}: "
        if offset is not None:
            where += f"offset {offset}: "
        super().__init__(where + message)
