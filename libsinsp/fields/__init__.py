"""libsinsp's field classes (evt, process, user, group, container, k8s, fd, fs.path).

``registry()`` is the one shared ``SinspFieldRegistry``: the filter compiler,
the formatter, the rules engine and ``sinsp -l`` all use it.
"""

from libsinsp.fields.registry import Bound, FieldClass, FieldError, FieldSpec, SinspFieldRegistry, registry

__all__ = ["Bound", "FieldClass", "FieldError", "FieldSpec", "SinspFieldRegistry", "registry"]
