"""The ``falco`` command line: modern Falco's flags and exit codes (0 success,
1 any error, printed as ``Error: <message>`` on stderr).

The informational actions (--version, --support, --list, --list-events, -V,
-L/-l) print and exit; otherwise the daemon runs (falco.app)."""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import os
import sys
import time
from typing import Any, NoReturn, TextIO

from .configuration import Config, ConfigError, find_config_file, load

log = logging.getLogger("falco")


class UsageError(Exception):
    """Bad command line; printed as ``Error: ...`` with exit code 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="falco", description="Falco - Cloud Native Runtime Security (falco-py)",
                formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("-c", metavar="<path>", dest="config", help="Configuration file (default /etc/falco/falco.yaml, "
      "else falco-py's packaged falco.yaml).")
    a("--config-schema", action="store_true", help="Print the config json schema and exit.")
    a("--disable-source", action="append", default=[], metavar="<event_source>",
      help="Turn off an event source (repeatable; not with --enable-source).")
    a("--dry-run", action="store_true", help="Load configuration and rules, process no events.")
    a("--enable-source", action="append", default=[], metavar="<event_source>",
      help="Enable only these event sources (repeatable).")
    a("-L", action="store_true", dest="describe_all",
      help="Show name and description of all rules and exit (JSON details with json_output).")
    a("-l", metavar="<rule>", dest="describe_rule", help="Show name and description of <rule> and exit.")
    a("--list", nargs="?", const="", default=None, metavar="<source>",
      help="List the fields (of <source>) and exit.")
    a("--list-events", action="store_true", help="List all defined syscall events and exit.")
    a("--list-plugins", action="store_true", help="Print info on all loaded plugins and exit.")
    a("--plugin-info", metavar="<plugin_name>", help="Print info for the plugin (name or library_path of a "
      "plugins entry): its capabilities, init config schema and suggested open params, and exit.")
    a("--format", choices=("text", "markdown", "json"), help="Output format of --list/--list-events.")
    a("-M", type=float, default=0.0, metavar="<num_seconds>", help="Stop after <num_seconds>.")
    a("-N", action="store_true", dest="names_only", help="With --list, print field names only.")
    a("-o", "--option", action="append", default=[], metavar="<opt>=<val>",
      help="Set a configuration key (dotted keys, list[index], list[] appends), e.g. "
           "-o json_output=true -o rules[].disable.rule=NAME.")
    a("-P", "--pidfile", default="", metavar="<pid_file>", help="Write the PID to <pid_file>.")
    a("-r", action="append", default=[], dest="rules", metavar="<rules_file>",
      help="Rules file or directory (repeatable); replaces rules_files of the configuration.")
    a("--support", action="store_true", help="Print support information (JSON) and exit.")
    a("-U", "--unbuffered", action="store_true", help="Turn off output buffering.")
    a("-V", "--validate", action="append", default=[], metavar="<rules_file>",
      help="Validate rules file(s) and exit.")
    a("-v", action="store_true", dest="verbose", help="Verbose output (capture statistics at exit).")
    a("--version", action="store_true", help="Print version information and exit.")
    a("-A", action="store_true", dest="all_events",
      help="Monitor all syscalls (older Falco flag; same as -o base_syscalls.all=true).")
    return p


# --- logging ------------------------------------------------------------------------------

class _FalcoFormatter(logging.Formatter):
    """Falco's stderr log line: ``<ctime>: <message>``."""

    def format(self, record: logging.LogRecord) -> str:
        return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(record.created)) + ": " + record.getMessage()


_LEVELS = {"emergency": logging.CRITICAL, "alert": logging.CRITICAL, "critical": logging.CRITICAL,
           "error": logging.ERROR, "warning": logging.WARNING, "notice": logging.INFO,
           "info": logging.INFO, "debug": logging.DEBUG}


def setup_logging(config: Config | None) -> None:
    """stderr and/or syslog logging per log_stderr/log_syslog/log_level."""
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    log.propagate = False
    level = _LEVELS.get(str(config.get("log_level", "info")) if config else "info", logging.INFO)
    log.setLevel(level)
    if config is None or config.get("log_stderr", True):
        h: logging.Handler = logging.StreamHandler(sys.stderr)
        h.setFormatter(_FalcoFormatter())
        log.addHandler(h)
    if config is not None and config.get("log_syslog", True) and os.path.exists("/dev/log"):
        try:
            sh = logging.handlers.SysLogHandler("/dev/log")
            sh.ident = "falco: "
            log.addHandler(sh)
        except OSError:
            pass


# --- informational actions -------------------------------------------------------------------

def _print_list_events(fmt: str | None, out: TextIO) -> None:
    from libscap.schema import EC, EVENTS, SCHEMA_VERSION

    cats: dict[str, list[Any]] = {"Syscall events": [], "Tracepoint events": [], "Plugin events": [],
                                  "Metaevents": []}
    for e in EVENTS:
        if e.name in ("NA", "") or e.code.endswith("_UNUSED"):
            continue
        cat = e.category
        key = ("Plugin events" if cat & EC.PLUGIN else "Metaevents" if cat & EC.METAEVENT
               else "Tracepoint events" if cat & EC.TRACEPOINT else "Syscall events")
        cats[key].append(e)
    if fmt == "json":
        doc: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        for key, evs in cats.items():
            doc[key] = [{"name": e.name, "dir": ">" if e.is_enter else "<",
                         "params": [{"type": "PT_" + p.type.name, "name": p.name} for p in e.params]}
                        for e in evs]
        out.write(json.dumps(doc, indent=2) + "\n")
        return
    out.write(f"The events below are valid for Falco *Schema Version*: {SCHEMA_VERSION}\n")
    for key, evs in cats.items():
        out.write(f"## {key}\n\n")
        for e in evs:
            params = ", ".join(f"PT_{p.type.name} **{p.name}**" for p in e.params)
            out.write(f"{'>' if e.is_enter else '<'} {e.name}({params})\n")
        out.write("\n")


def _print_fields(registries: list[Any], names_only: bool, fmt: str | None, out: TextIO) -> None:
    classes, seen = [], set()
    for reg in registries:
        for c in reg.fields_by_class():
            if (c.name, c.sources) not in seen:
                seen.add((c.name, c.sources))
                classes.append(c)
    if fmt == "json":
        out.write(json.dumps([{"name": c.name, "desc": c.desc, "event_sources": list(c.sources),
                               "fields": [f.as_dict() for f in c.fields]} for c in classes], indent=2) + "\n")
        return
    for c in classes:
        if names_only:
            out.writelines(f"{f.name}\n" for f in c.fields)
            continue
        out.write(f"Field Class:                  {c.name}\n"
                  f"Description:                  {c.desc}\n"
                  f"Event Sources:                {', '.join(c.sources)}\n\n")
        for f in c.fields:
            out.write(f"{f.name:<30}{f.info.description}\n")
        out.write("\n")


def _describe(engine: Any, name: str | None, as_json: bool, out: TextIO) -> None:
    out.write(engine.describe_rules(name, json=as_json) + ("\n" if as_json else ""))


def _validate(files: list[str], config: Config, describe: bool, rule: str | None, plugins: Any) -> int:
    from .rules_setup import new_engine

    engine = new_engine(config)
    plugins.add_sources(engine)
    results = []
    for f in files:
        try:
            with open(f, encoding="utf-8") as fh:
                content = fh.read()
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"Could not read rules file {f}: {getattr(e, 'strerror', None) or e}") from None
        results.append(engine.load_rules(content, f))
    ok = all(r.successful for r in results)
    if config.get("json_output", False):
        doc: dict[str, Any] = {"falco_load_results": [r.as_json() for r in results]}
        if ok and (describe or rule):  # as upstream's validate_rules_files
            doc["falco_describe_results"] = engine.describe(rule)
        sys.stdout.write(json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n")
    else:
        lines = []
        for r in results:
            if r.successful and r.has_warnings:
                lines.append(f"{r.name}: Ok, with warnings")
                log.warning("%s", r.as_text().rstrip("\n"))
            else:
                lines.append(r.as_text().rstrip("\n"))
        sys.stdout.write("\n".join(lines) + "\n")
        if ok and (describe or rule):
            sys.stdout.write("\n")
            _describe(engine, rule, False, sys.stdout)
    return 0 if ok else 1


def _support(config: Config, argv: list[str], rules_cmdline: list[str]) -> None:
    from .rules_setup import configured_rules_paths, expand_rules_paths
    from .versions import versions_info

    info = versions_info()
    u = os.uname()
    files = expand_rules_paths(configured_rules_paths(config, rules_cmdline))
    rules_files = []
    for f in files:
        try:
            with open(f, encoding="utf-8", errors="replace") as fh:
                rules_files.append({"name": f, "variants": [{"content": fh.read()}]})
        except OSError:
            continue
    doc = {"system_info": {"sysname": u.sysname, "nodename": u.nodename, "release": u.release,
                           "version": u.version, "machine": u.machine},
           "version": info["falco_version"], "engine_info": info, "cmdline": " ".join(["falco"] + argv),
           "config": json.dumps(config.data), "rules_files": rules_files}
    sys.stdout.write(json.dumps(doc) + "\n")


def _select_sources(loaded: list[str], enable: list[str], disable: list[str], capture_mode: bool) -> list[str]:
    """Upstream's select_event_sources: every loaded source unless --enable-source or
    --disable-source say otherwise (meaningless in replay: every source is used)."""
    if capture_mode:
        return list(loaded)
    for src in enable + disable:
        if src not in loaded:
            raise UsageError(f"Attempted {'enabling' if src in enable else 'disabling'} an unknown event source: {src}")
    enabled = [s for s in loaded if (s in enable if enable else s not in disable)]
    if not enabled:
        raise UsageError("Must enable at least one event source")
    return enabled


# --- entry point ---------------------------------------------------------------------------------

def run(argv: list[str]) -> int:
    """Run falco with ``argv`` (without the program name); returns the exit code."""
    from .app import Daemon, FatalError, RunOptions
    from .plugins import Plugins, list_plugins, plugin_configs, plugin_info
    from .rules_setup import load_rules
    from .versions import version_text, versions_info

    args = build_parser().parse_args(argv)
    if args.enable_source and args.disable_source:
        raise UsageError("You can not mix --enable-source and --disable-source")
    if args.config_schema:
        from .configuration import _SCHEMA

        sys.stdout.write(json.dumps(_SCHEMA, indent=2) + "\n")
        return 0
    options = list(args.option) + (["base_syscalls.all=true"] if args.all_events else [])
    config = load(find_config_file(args.config), options)
    setup_logging(config)
    for w in config.warnings:
        log.warning("%s", w)
    from .security import warn_writable

    warn_writable(config.loaded_files, "Configuration")
    if args.version:
        info = versions_info()
        sys.stdout.write(json.dumps(info) + "\n" if config.get("json_output") else version_text(info))
        return 0
    if args.support:
        _support(config, argv, args.rules)
        return 0
    if args.list_events:
        _print_list_events(args.format, sys.stdout)
        return 0
    configs = plugin_configs(config)
    if args.plugin_info:
        sys.stdout.write(plugin_info(configs, args.plugin_info))
        return 0
    if args.list_plugins:
        sys.stdout.write(list_plugins(configs))
        return 0
    capture_mode = config.get("engine.kind", "modern_ebpf") == "replay"
    plugins = Plugins(configs, capture_mode)
    if args.list is not None:
        if args.list and args.list not in plugins.sources:
            raise UsageError("Value for --list must be a valid source type")
        _print_fields([plugins.registry(s) for s in plugins.sources if not args.list or s == args.list],
                      args.names_only, args.format, sys.stdout)
        return 0
    if args.validate:
        return _validate(args.validate, config, args.describe_all, args.describe_rule, plugins)
    enabled = _select_sources(plugins.sources, args.enable_source, args.disable_source, capture_mode)
    rules = load_rules(config, args.rules, plugins)
    warn_writable(rules.files, "Rules")
    if args.describe_all or args.describe_rule:
        if args.describe_rule and not any(r.name == args.describe_rule for r in rules.engine.rules):
            raise UsageError(f"Rule {args.describe_rule} not found")
        _describe(rules.engine, args.describe_rule, bool(config.get("json_output")), sys.stdout)
        return 0
    if args.pidfile:
        try:
            with open(args.pidfile, "w") as f:
                f.write(f"{os.getpid()}\n")
        except OSError as e:
            raise UsageError(f"Could not write pid file {args.pidfile}: {e.strerror}") from None
    opts = RunOptions(config_file=config.loaded_files[0], options=options, rules=args.rules,
                      duration_s=args.M, dry_run=args.dry_run, verbose=args.verbose,
                      unbuffered=args.unbuffered, enable_sources=args.enable_source,
                      disable_sources=args.disable_source, pidfile=args.pidfile)
    try:
        return Daemon(opts, config, rules, plugins, enabled).run()
    except FatalError as e:
        raise UsageError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: errors become ``Error: ...`` and exit code 1."""
    from .app import FatalError
    from .outputs import OutputConfigError
    from .plugins import PluginSetupError
    from .rules_setup import RulesError

    try:
        return run(sys.argv[1:] if argv is None else argv)
    except (UsageError, ConfigError, RulesError, FatalError, OutputConfigError, PluginSetupError) as e:
        sys.stdout.flush()
        sys.stderr.write(f"Error: {e}\n")
        return 1
    except KeyboardInterrupt:
        return 1
    except BrokenPipeError:
        return 1
