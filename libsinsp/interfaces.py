"""The machine's interface addresses, parsed once from libscap's Interfaces (a
capture's interface list): what the socket parsers infer a tuple's missing end
from and what fd.lip/fd.rip/fd.is_server test locality with, as upstream's
sinsp_network_interfaces."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from libscap.savefile import Interfaces


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class InterfaceAddresses:
    """``ipv4``: (address, netmask or None when unreadable) per IPv4 interface entry;
    ``ipv6``: the IPv6 addresses. Entries whose address does not parse are left out."""

    ipv4: tuple[tuple[ipaddress.IPv4Address, ipaddress.IPv4Address | None], ...] = ()
    ipv6: tuple[ipaddress.IPv6Address, ...] = ()

    @classmethod
    def parse(cls, ifaces: Interfaces | None) -> InterfaceAddresses | None:
        """None when the interfaces are unknown (the callers' own fallbacks apply)."""
        if ifaces is None:
            return None
        v4 = [(ip, _parse(e.netmask)) for e in ifaces.ipv4 if isinstance(ip := _parse(e.addr), ipaddress.IPv4Address)]
        v6 = [ip for e in ifaces.ipv6 if isinstance(ip := _parse(e.addr), ipaddress.IPv6Address)]
        return cls(tuple(v4), tuple(v6))  # type: ignore[arg-type]
