"""The .scap capture file: reading (``open_capture``) and writing (``write_capture``,
``CaptureWriter``, ``copy_capture``). Block types and state dataclasses live in
``blocks``; old event layouts are converted by ``converter``, not here."""

from .blocks import (
    FdInfo, GroupInfo, InterfaceInfo, Interfaces, MachineInfo, ProcessInfo, ScapWarning,
    SectionHeader, StateBlock, UserInfo,
)
from .reader import Capture, SavefileEvent, open_capture
from .writer import CaptureWriter, copy_capture, write_capture

__all__ = [
    "Capture", "FdInfo", "GroupInfo", "InterfaceInfo", "Interfaces", "MachineInfo", "ProcessInfo",
    "SavefileEvent", "ScapWarning", "SectionHeader", "StateBlock", "UserInfo", "open_capture",
    "CaptureWriter", "copy_capture", "write_capture",
]
