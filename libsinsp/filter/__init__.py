"""The filter language of Falco conditions and sysdig filters.

``parse`` turns text into a typed AST (``ast``), ``compile_filter`` turns an AST
into one Python callable over events using a field registry (``fields``), and
``event_types`` tells which event types a filter can match.
"""

from libsinsp.filter.ast import Pos
from libsinsp.filter.compiler import compile_filter, compile_matcher
from libsinsp.filter.errors import FilterCompileError, FilterError, FilterSyntaxError
from libsinsp.filter.evttypes import event_types
from libsinsp.filter.parser import parse
from libsinsp.filter.printer import to_string

__all__ = [
    "FilterCompileError",
    "FilterError",
    "FilterSyntaxError",
    "Pos",
    "compile_filter",
    "compile_matcher",
    "event_types",
    "parse",
    "to_string",
]
