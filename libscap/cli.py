"""``libscap`` command line: look inside .scap captures without libsinsp.

``libscap capture -w FILE [-M SECONDS] [-n COUNT] [-- command args]`` writes live
events (modern eBPF engine) to a capture.

``libscap print FILE [--converted] [--json] [--internal] [-n N]`` prints one line per event
record: number, timestamp (ns since the epoch), cpu, thread id, direction, event
name and the parameters rendered by their print format (``name=value``), or one
JSON object per line with ``--json``. Raw mode shows the records as stored
(enter and exit events, old layouts); ``--converted`` shows the stream current
libs delivers from the file (see libscap.savefile.converter). Parameter values are
the raw ones: fds, pids and paths are not resolved against process state.

A capture that cannot be read ends the command with a message naming the file
and the offset and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Iterable, Iterator, Sequence, TextIO

from .errors import ScapError
from .event import Event
from .render import event_name, render_params
from .schema import EC
from .savefile import open_capture
from .savefile.converter import convert


def _records(path: str, converted: bool) -> Iterator[Event]:
    events: Iterable[Event] = open_capture(path).events()
    return convert(events) if converted else iter(events)


def format_line(evt: Event) -> str:
    """One text line for an event (buffers cut like sysdig's default output)."""
    head = f"{evt.num} {evt.ts} {evt.cpu} {evt.tid} {evt.direction} {event_name(evt)}"
    args = " ".join(f"{name}={value}" for name, value in render_params(evt))
    return f"{head} {args}" if args else head


def format_json(evt: Event) -> str:
    """One JSON object for an event, parameters rendered in full."""
    return json.dumps({
        "num": evt.num, "ts": evt.ts, "cpu": evt.cpu, "tid": evt.tid, "dir": evt.direction,
        "type": event_name(evt), "type_id": evt.type,
        "params": dict(render_params(evt, max_len=None)),
    })


def print_capture(path: str, out: TextIO, converted: bool = False, as_json: bool = False,
                  limit: int | None = None, internal: bool = False) -> int:
    """Write the capture's records to ``out``; returns how many were written.

    Internal events (EC_INTERNAL: procinfo, drop, container...) are skipped unless
    ``internal``, as sysdig does, so the output lines up with ``sysdig -r``.
    """
    fmt = format_json if as_json else format_line
    count = 0
    for evt in _records(path, converted):
        if limit is not None and count >= limit:
            break
        info = evt.info
        if not internal and info is not None and info.category & EC.INTERNAL:
            continue
        out.write(fmt(evt) + "\n")
        count += 1
    return count


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="libscap", description="Inspect .scap capture files.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("print", help="print the events of a capture, one per line")
    p.add_argument("file", help=".scap file (plain or gzip)")
    p.add_argument("--converted", action="store_true",
                   help="print the converted stream (exit events in today's layout) instead of the raw records")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--internal", action="store_true",
                   help="also print internal events (procinfo, drop, container...), which sysdig hides")
    p.add_argument("-n", type=int, metavar="N", default=None, help="stop after N events")
    c = sub.add_parser("capture", help="capture live events into a .scap file (needs BPF: root)")
    c.add_argument("-w", dest="file", required=True, help="the .scap file to write")
    c.add_argument("-M", dest="seconds", type=float, help="stop after SECONDS")
    c.add_argument("-n", dest="count", type=int, help="stop after COUNT events")
    c.add_argument("cmd", nargs="*", metavar="-- command args", help="run this command and stop when it exits")
    return parser


def _run(args: argparse.Namespace) -> None:
    if args.command == "capture":
        from .engine.capture import capture  # the live engine loads only when asked for

        n = capture(args.file, args.seconds, args.count, args.cmd or None)
        print(f"{n} events written to {args.file}")
    else:
        print_capture(args.file, sys.stdout, args.converted, args.json, args.n, args.internal)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``libscap`` and ``python -m libscap``; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        _run(args)
        sys.stdout.flush()
    except ScapError as exc:
        where = f"{exc.path or args.file}: "
        if exc.offset is not None:
            where += f"offset {exc.offset}: "
        print(f"libscap: error: {where}{exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            # The reader of our output went away (e.g. `| head`): stop quietly.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        print(f"libscap: error: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
