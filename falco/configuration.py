"""falco.yaml loading, as upstream Falco does it.

Order of work (upstream's): read the main file and expand ``${VAR}`` in every
string; apply ``-o config_files=...`` options; merge the included files
(``config_files``, each file or directory — directory entries sorted — with the
``append``/``override``/``add-only`` strategy); apply every ``-o key=value``;
then validate the result against ``falco/config/schema.json`` (our own schema).

Validation uses weak types as upstream's validator does: ``-o`` values arrive
as text, so ``"true"`` satisfies a boolean and ``"5"`` an integer (the value is
converted in place), and a single string satisfies a list of strings. Unknown
keys are warnings naming the key (an upstream falco.yaml with keys we do not know
still loads); a wrong type or value is a :class:`ConfigError` naming the key.

The module is called ``configuration`` (as upstream's configuration.cpp) because
``falco/config/`` holds the packaged default falco.yaml and the schema.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
import jsonschema

try:  # LibYAML's C loader is several times faster when present
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Loader = yaml.SafeLoader

#: The packaged default configuration, used when neither ``-c`` nor
#: /etc/falco/falco.yaml is there.
DEFAULT_CONFIG = Path(str(resources.files("falco").joinpath("config", "falco.yaml")))
INSTALLED_CONFIG = Path("/etc/falco/falco.yaml")
#: Variable the default falco.yaml uses to find the project's own rules; set
#: (unless the environment already has it) to the installed rules directory.
RULES_DIR_VAR = "FALCO_PY_RULES_DIR"
CONFIG_FILES_KEY = "config_files"

_SCHEMA: dict[str, Any] = json.loads(
    resources.files("falco").joinpath("config", "schema.json").read_text(encoding="utf-8")
)


class ConfigError(Exception):
    """A configuration that cannot be used: the message names the file or key."""


@dataclass
class Config:
    """The merged, validated configuration tree and where it came from."""

    data: dict[str, Any]
    #: main file first, then included files in merge order
    loaded_files: list[str] = field(default_factory=list)
    #: schema warnings (unknown keys), one sentence each
    warnings: list[str] = field(default_factory=list)

    def get(self, key: str, default: Any = None) -> Any:
        """Value at a dotted key (``http_output.url``), or ``default``."""
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return default if node is None else node


def default_rules_dir() -> str:
    """Directory of the project's own rules (falco_engine/rules)."""
    return str(Path(str(resources.files("falco_engine"))) / "rules")


def expand_env(text: str) -> str:
    """``${VAR}`` becomes the variable's value (empty when unset); ``$${x}``
    becomes the literal ``${x}``; a ``$`` with no closing brace is left alone."""
    out: list[str] = []
    i = 0
    while True:
        j = text.find("$", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        rest = text[j:]
        if rest.startswith("${") or rest.startswith("$${"):
            end = text.find("}", j)
            if end < 0:
                out.append(rest)
                return "".join(out)
            if rest.startswith("$${"):
                out.append(text[j + 1:end + 1])
            else:
                out.append(os.environ.get(text[j + 2:end], ""))
            i = end + 1
        else:
            out.append("$")
            i = j + 1


def _expand_tree(node: Any) -> Any:
    if isinstance(node, str):
        return expand_env(node)
    if isinstance(node, list):
        return [_expand_tree(v) for v in node]
    if isinstance(node, dict):
        return {k: _expand_tree(v) for k, v in node.items()}
    return node


def _read_yaml(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.load(f, Loader=_Loader)
    except OSError as e:
        raise ConfigError(f"Cannot read config file ({path}): {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"Cannot read config file ({path}): {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"Cannot read config file ({path}): the document is not a mapping")
    return _expand_tree(data)


# --- -o key=value -----------------------------------------------------------

_Step = str | int | None  # mapping key, list index, or None for "append"


def parse_key(key: str) -> list[_Step]:
    """Split an ``-o`` key (``a.b[2].c``, ``rules[].disable.rule``, ``a\\.b``)
    into steps; ``[]`` is an append. Raises ConfigError on a malformed key."""
    steps: list[_Step] = []
    name = ""
    i = 0
    expect_name = True

    def fail(why: str) -> ConfigError:
        return ConfigError(f'Config error at key "{key}": {why}')

    while i < len(key):
        c = key[i]
        if c == "\\":
            if i + 1 >= len(key) or key[i + 1] not in ".[]\\":
                raise fail(f"invalid escape at position {i}")
            name += key[i + 1]
            i += 2
            continue
        if c == ".":
            if not name and expect_name:
                raise fail(f"empty key name at position {i}")
            if name:
                steps.append(name)
                name = ""
            expect_name = True
        elif c == "[":
            if name:
                steps.append(name)
                name = ""
            elif not steps:
                raise fail("a list index needs a key before it")
            end = key.find("]", i)
            if end < 0:
                raise fail(f"missing ']' after position {i}")
            idx = key[i + 1:end]
            if idx == "":
                steps.append(None)
            elif idx.isdigit():
                steps.append(int(idx))
            else:
                raise fail(f"expected a numeric index, found '{idx}'")
            i = end
            expect_name = False
        else:
            if not expect_name and not name:
                raise fail(f"expected '.' at position {i}")
            name += c
        i += 1
    if name:
        steps.append(name)
    elif expect_name:
        raise fail("key ends without a name")
    return steps


def set_option(root: dict[str, Any], option: str) -> None:
    """Apply one ``-o key=value``: values in braces are YAML objects, anything
    else is text (typed later by validation, as upstream's weak typing)."""
    key, sep, text = option.partition("=")
    if not sep or not key:
        raise ConfigError(
            f'Error parsing config option "{option}". Must be of the form key=val or key.subkey=val')
    value: Any = text
    if text.startswith("{") and text.endswith("}"):
        try:
            value = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as e:
            raise ConfigError(f'Config error at key "{key}": invalid YAML object: {e}') from None
    steps = parse_key(key)
    node: Any = root
    for step, nxt in zip(steps, steps[1:] + ["<leaf>"]):
        leaf = nxt == "<leaf>"
        child_default: Any = value if leaf else ([] if not isinstance(nxt, str) else {})
        if isinstance(step, str):
            if not isinstance(node, dict):
                raise ConfigError(f'Config error at key "{key}": "{step}" is under a non-mapping value')
            if leaf or not isinstance(node.get(step), (dict, list)):
                node[step] = child_default
            node = node[step]
        else:
            if not isinstance(node, list):
                raise ConfigError(f'Config error at key "{key}": indexing a value that is not a list')
            if step is None:
                node.append(child_default)
                step = len(node) - 1
            elif step >= len(node):
                raise ConfigError(f'Config error at key "{key}": index {step} is past the end of the list')
            elif leaf or not isinstance(node[step], (dict, list)):
                node[step] = child_default
            node = node[step]


# --- includes -----------------------------------------------------------------


def _include_entries(data: dict[str, Any]) -> list[tuple[str, str]]:
    entries = data.get(CONFIG_FILES_KEY) or []
    if isinstance(entries, str):
        entries = [entries]
    if not isinstance(entries, list):
        raise ConfigError(f"Invalid configuration: key '{CONFIG_FILES_KEY}': expected a list, not {entries!r}")
    out = []
    for e in entries:
        if isinstance(e, str):
            out.append((e, "append"))
        elif isinstance(e, dict) and isinstance(e.get("path"), str):
            out.append((e["path"], str(e.get("strategy", "append"))))
        else:
            raise ConfigError(f"Invalid configuration: key '{CONFIG_FILES_KEY}': bad entry {e!r}")
    return out


def _merge(root: dict[str, Any], extra: dict[str, Any], strategy: str, path: str) -> None:
    for key, value in extra.items():
        if key == CONFIG_FILES_KEY:
            raise ConfigError(f"Config error: '{CONFIG_FILES_KEY}' directive in included config file {path}.")
        if strategy == "append" and isinstance(value, list) and isinstance(root.get(key), list):
            root[key] = root[key] + value
        elif strategy == "add-only":
            root.setdefault(key, value)
        else:
            root[key] = value


def _merge_includes(root: dict[str, Any], main: str, loaded: list[str]) -> None:
    for path, strategy in _include_entries(root):
        p = Path(path)
        if p.exists() and p.resolve() == Path(main).resolve():
            raise ConfigError(f"Config error: '{CONFIG_FILES_KEY}' directive tried to recursively "
                              f"include main config file: {main}.")
        if p.is_file():
            files = [path]
        elif p.is_dir():
            files = sorted(str(f) for f in p.iterdir() if f.is_file())
        else:
            continue  # as for rules files: a missing entry is skipped
        for f in files:
            _merge(root, _read_yaml(f), strategy, f)
            loaded.append(f)


# --- validation -----------------------------------------------------------------

_VALIDATOR = jsonschema.Draft202012Validator(_SCHEMA)
_BOOLS = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}


def _key_text(path: Any) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<root>"


def _coerce(value: Any, expected: Any) -> Any:
    """Weak typing: the converted value, or the same object if no conversion fits."""
    kinds = expected if isinstance(expected, list) else [expected]
    if isinstance(value, str):
        low = value.strip().lower()
        for kind in kinds:
            if kind == "boolean" and low in _BOOLS:
                return _BOOLS[low]
            if kind == "integer" and re.fullmatch(r"[+-]?\d+", low):
                return int(low)
            if kind == "number":
                try:
                    return float(low)
                except ValueError:
                    pass
            if kind == "array":
                return [value]
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and "string" in kinds:
        return str(value)
    return value


def _replace(root: dict[str, Any], path: list[Any], value: Any) -> None:
    node: Any = root
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


def _type_errors(err: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The type errors behind an error (anyOf/oneOf keep them as context)."""
    if err.validator == "type":
        return [err]
    return [e for sub in (err.context or []) for e in _type_errors(sub)]


def validate(data: dict[str, Any]) -> list[str]:
    """Validate in place (applying weak-type conversions); return warnings for
    unknown keys, raise ConfigError naming the key for anything else."""
    for _ in range(1000):  # each pass fixes at least one conversion or stops
        changed = False
        for err in _VALIDATOR.iter_errors(data):
            for terr in _type_errors(err):
                if terr.path:
                    new = _coerce(terr.instance, terr.validator_value)
                    if new is not terr.instance:
                        _replace(data, list(terr.path), new)
                        changed = True
                        break
            if changed:
                break
        if not changed:
            break
    warnings: list[str] = []
    errors: list[str] = []
    for err in sorted(_VALIDATOR.iter_errors(data), key=lambda e: list(map(str, e.path))):
        where = _key_text(err.path)
        if err.validator == "additionalProperties":
            known = err.schema.get("properties", {})
            for extra in sorted((k for k in err.instance if k not in known), key=str):
                name = f"{where}.{extra}" if err.path else extra
                warnings.append(f"unknown configuration key '{name}' (ignored)")
        else:
            errors.append(f"key '{where}': {err.message}")
    if errors:
        raise ConfigError("Invalid configuration: " + "; ".join(errors))
    return warnings


def find_config_file(explicit: str | None) -> str:
    """The file to load: ``-c``, else /etc/falco/falco.yaml, else the packaged default."""
    if explicit is not None:
        if not os.path.isfile(explicit):
            raise ConfigError(f"Could not find configuration file at {explicit}")
        return explicit
    return str(INSTALLED_CONFIG if INSTALLED_CONFIG.is_file() else DEFAULT_CONFIG)


def load(path: str, options: list[str] | tuple[str, ...] = ()) -> Config:
    """Load ``path`` with its includes and the ``-o`` options applied, validated."""
    os.environ.setdefault(RULES_DIR_VAR, default_rules_dir())
    data = _read_yaml(path)
    for opt in options:
        if opt.startswith(CONFIG_FILES_KEY):
            set_option(data, opt)
    loaded = [path]
    _merge_includes(data, path, loaded)
    for opt in options:
        if not opt.startswith(CONFIG_FILES_KEY):
            set_option(data, opt)
    warnings = validate(data)
    return Config(data=data, loaded_files=loaded, warnings=warnings)
