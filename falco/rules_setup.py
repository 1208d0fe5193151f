"""From configuration to a loaded rules engine: which rules files (``-r`` or
``rules_files``, directories expanded to their *.yaml/*.yml files in name order),
priority, rule_matching, append_output, and the ``rules:`` enable/disable
selections applied after loading — as upstream's load_rules_files action."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from falco_engine import Engine, LoadResult

from .configuration import Config

log = logging.getLogger("falco")


class RulesError(Exception):
    """Rules could not be loaded; the message is what falco prints."""


def expand_rules_paths(paths: list[str]) -> list[str]:
    """Files to load: a directory contributes its *.yaml/*.yml files (sorted);
    a file is kept if it has one of those extensions."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            out += sorted(os.path.join(p, f) for f in os.listdir(p)
                          if f.endswith((".yaml", ".yml")) and os.path.isfile(os.path.join(p, f)))
        elif p.endswith((".yaml", ".yml")):
            out.append(p)
    return out


def configured_rules_paths(config: Config, cmdline: list[str]) -> list[str]:
    """``-r`` paths if given, else the existing entries of rules_files (missing
    config entries are skipped, as upstream)."""
    if cmdline:
        return list(cmdline)
    if config.get("rules_files") is not None and config.get("rules_file") is not None:
        raise RulesError("both 'rules_files' and 'rules_file' keys set")
    listed = config.get("rules_files", config.get("rules_file", [])) or []
    return [p for p in listed if os.path.exists(p)]


def new_engine(config: Config) -> Engine:
    """An engine configured (before loading) from falco.yaml."""
    engine = Engine()
    engine.set_min_priority(str(config.get("priority", "debug")))
    engine.set_rule_matching(str(config.get("rule_matching", "first")))
    for entry in config.get("append_output", []) or []:
        match = entry.get("match", {}) or {}
        src, tags, rule = match.get("source", ""), match.get("tags", []) or [], match.get("rule", "")
        if entry.get("extra_output"):
            engine.add_extra_output(entry["extra_output"], src, tags, rule)
        for item in entry.get("extra_fields", []) or []:
            if isinstance(item, dict):
                for key, fmt in item.items():
                    engine.add_extra_output_field(key, str(fmt), src, tags, rule)
            else:
                engine.add_extra_output_field(str(item), f"%{item}", src, tags, rule, raw=True)
    return engine


@dataclass
class LoadedRules:
    engine: Engine
    files: list[str]
    results: list[LoadResult] = field(default_factory=list)


def load_rules(config: Config, cmdline: list[str], plugins: Any = None) -> LoadedRules:
    """Load every rules file into a new engine and apply the selections. ``plugins``
    (falco.plugins.Plugins) adds the plugin sources first and checks the rules'
    required_plugin_versions after loading; as upstream, an unmet requirement is the
    error reported even when a rules file failed (its unknown fields are the symptom)."""
    paths = configured_rules_paths(config, cmdline)
    if not paths:
        raise RulesError("You must specify at least one rules file/directory via -r or a "
                         "rules_files entry in falco.yaml")
    files = expand_rules_paths(paths)
    engine = new_engine(config)
    if plugins is not None:
        plugins.add_sources(engine)
    loaded = LoadedRules(engine, files)
    error = ""
    log.info("Loading rules from:")
    for f in files:
        try:
            with open(f, encoding="utf-8") as fh:
                content = fh.read()
        except OSError as e:
            raise RulesError(f"Could not read rules file {f}: {e.strerror}") from None
        except UnicodeDecodeError:
            raise RulesError(f"Could not read rules file {f}: not UTF-8 text") from None
        res = engine.load_rules(content, f)
        loaded.results.append(res)
        log.info("   %s", f)
        if not res.successful:
            error = res.as_text().rstrip("\n")
            break
        if res.has_warnings:
            log.warning("%s", res.as_text().rstrip("\n"))
    if plugins is not None:
        error = plugins.requirement_error(engine) or error
    if error:
        raise RulesError(error)
    for sel in config.get("rules", []) or []:
        for op, what in sel.items():
            enable = op == "enable"
            if what.get("rule"):
                log.info("%s rules with name: %s", "Enabling" if enable else "Disabling", what["rule"])
                engine.enable_rule(what["rule"], enable)
            if what.get("tag"):
                log.info("%s rules with tag: %s", "Enabling" if enable else "Disabling", what["tag"])
                engine.enable_rule_by_tag([what["tag"]], enable)
    return loaded

