"""Alert outputs (stdout, file, program, http, syslog) and the queue that
delivers to them off the capture path. ``build_outputs`` turns falco.yaml's
``*_output`` sections into output objects."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Message, Output
from .file import FileOutput
from .http import HttpOutput
from .program import ProgramOutput
from .queue import OutputsQueue
from .stdout import StdoutOutput
from .syslog import DEFAULT_ADDRESS, SyslogOutput

if TYPE_CHECKING:
    from ..configuration import Config

__all__ = ["Message", "Output", "OutputsQueue", "build_outputs", "FileOutput", "HttpOutput",
           "ProgramOutput", "StdoutOutput", "SyslogOutput"]


class OutputConfigError(ValueError):
    """An enabled output whose configuration cannot work (message names the key)."""


def build_outputs(config: Config, unbuffered: bool = False) -> list[Output]:
    """The enabled outputs, in upstream's order (file, stdout, syslog, program, http)."""
    buffered = bool(config.get("buffered_outputs", False)) and not unbuffered
    outs: list[Output] = []
    if config.get("file_output.enabled", False):
        filename = config.get("file_output.filename", "")
        if not filename:
            raise OutputConfigError("file output enabled but no filename in configuration block "
                                    "(file_output.filename)")
        outs.append(FileOutput(filename, bool(config.get("file_output.keep_alive", False)), buffered))
    if config.get("stdout_output.enabled", False):
        outs.append(StdoutOutput(buffered))
    if config.get("syslog_output.enabled", False):
        outs.append(SyslogOutput(config.get("syslog_output.address", DEFAULT_ADDRESS)))
    if config.get("program_output.enabled", False):
        program = config.get("program_output.program", "")
        if not program:
            raise OutputConfigError("program output enabled but no program in configuration block "
                                    "(program_output.program)")
        outs.append(ProgramOutput(program, bool(config.get("program_output.keep_alive", False)), buffered))
    if config.get("http_output.enabled", False):
        h = config.get("http_output", {})
        if not h.get("url"):
            raise OutputConfigError("http output enabled but no url in configuration block (http_output.url)")
        try:
            outs.append(HttpOutput(
                h["url"], user_agent=h.get("user_agent", "falcosecurity/falco"),
                insecure=bool(h.get("insecure", False)), ca_cert=h.get("ca_cert", ""),
                ca_bundle=h.get("ca_bundle", ""), ca_path=h.get("ca_path", "/etc/ssl/certs"),
                mtls=bool(h.get("mtls", False)), client_cert=h.get("client_cert", ""),
                client_key=h.get("client_key", ""), echo=bool(h.get("echo", False)),
                compress_uploads=bool(h.get("compress_uploads", False)),
                keep_alive=bool(h.get("keep_alive", False)),
                max_consecutive_timeouts=int(h.get("max_consecutive_timeouts", 5))))
        except (ValueError, OSError) as e:
            raise OutputConfigError(f"http_output: {e}") from None
    return outs
