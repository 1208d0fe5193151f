"""``sinsp``: a sysdig-style inspector over libsinsp.

``sinsp [-r FILE] [-w OUT] [-p FORMAT] [-j] [-n N] [FILTER...]`` prints one line
per event that passes the filter (sysdig's default line, or ``-p``'s format;
``-j`` prints JSON objects), reading a capture with ``-r`` or capturing live
(root, modern eBPF) without it. ``-w OUT`` writes the passing events to a
capture instead of printing them, after the state blocks of the input capture
(or, live, the machine info, users and groups), so the output replays with
its processes known. ``-l`` lists the fields (``-j``: as JSON).

As with sysdig, a ``-p`` format without a leading ``*`` skips the events where
one of its fields has no value. Bad input (unreadable file, bad filter, unknown
field) ends with a message on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from libscap.errors import ScapError

from libsinsp.fields import registry
from libsinsp.formatter import DEFAULT_FORMAT, DEFAULT_JSON_FIELDS, FormatError, Formatter


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sinsp", description="Print (or write) the events of a capture or of "
                                "this host, enriched with process, fd and user state.")
    p.add_argument("-r", "--read", metavar="FILE", help="read events from a .scap capture (default: live)")
    p.add_argument("-w", "--write", metavar="FILE", help="write the events that pass the filter to a capture")
    p.add_argument("-p", "--print", dest="fmt", metavar="FORMAT", help="output format (%%field tokens)")
    p.add_argument("-j", "--json", action="store_true", help="print JSON objects")
    p.add_argument("-n", "--numevents", type=int, metavar="N", help="stop after N events")
    p.add_argument("-l", "--list", action="store_true", help="list the fields and exit")
    p.add_argument("filter", nargs="*", help="filter expression (sysdig syntax)")
    return p


def list_fields(out: TextIO, as_json: bool) -> None:
    """The field list, one section per class (``-l``)."""
    reg = registry()
    if as_json:
        json.dump([f.as_dict() for f in reg], out, indent=2)
        out.write("\n")
        return
    for fc in reg.fields_by_class():
        out.write(f"-------------------------------\nField Class: {fc.name}\n{fc.desc}\n\n")
        for f in fc.fields:
            tags = [t for t in ("deprecated", "filter_only", "print_only") if t in f.flags]
            suffix = f" [{', '.join(tags)}]" if tags else ""
            out.write(f"{f.name:<30}({f.ptype}) {f.info.description}{suffix}\n")
        out.write("\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (ScapError, OSError, ValueError) as e:
        # FilterError, FormatError and FieldError are ValueErrors with positions
        print(f"sinsp: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace) -> int:
    from libsinsp import Inspector
    from libsinsp.filter import FilterError

    if args.list:
        list_fields(sys.stdout, args.json)
        return 0
    try:
        if args.fmt is not None:
            fmt = Formatter(args.fmt)
        elif args.json:
            fmt = Formatter("*" + " ".join("%" + f for f in DEFAULT_JSON_FIELDS))
        else:
            fmt = Formatter(DEFAULT_FORMAT)
    except FormatError as e:
        raise ValueError(f"invalid format: {e}") from None
    insp = Inspector()
    with insp:
        if args.read:
            insp.open_file(args.read)
        else:
            insp.open_live()
        if args.filter:
            try:
                insp.set_filter(" ".join(args.filter))
            except FilterError as e:
                raise ValueError(f"invalid filter: {e}") from None
        if args.write:
            return _write(insp, args)
        return _print(insp, fmt, args)


def _print(insp: object, fmt: Formatter, args: argparse.Namespace) -> int:
    out = sys.stdout
    count = 0
    for sevt in insp:  # type: ignore[attr-defined]
        if args.numevents is not None and count >= args.numevents:
            break
        count += 1
        if args.json:
            out.write(fmt.to_json(sevt) + "\n")
            continue
        line = fmt.render(sevt)
        if line is not None:
            out.write(line + "\n")
    out.flush()
    return 0


def _write(insp: object, args: argparse.Namespace) -> int:
    from libscap.savefile import CaptureWriter, open_capture

    with CaptureWriter(args.write) as w:
        if args.read:
            cap = open_capture(args.read)
            try:
                for block in cap.raw_blocks:
                    if block.events_before == 0:
                        w.write_state_block(block)
            finally:
                cap.close()
        else:
            if insp.machine_info is not None:  # type: ignore[attr-defined]
                w.write_machine_info(insp.machine_info)  # type: ignore[attr-defined]
            w.write_users(list(insp.users), list(insp.groups))  # type: ignore[attr-defined]
        count = 0
        for sevt in insp:  # type: ignore[attr-defined]
            if args.numevents is not None and count >= args.numevents:
                break
            count += 1
            w.write_event(sevt.evt)
    return 0
