"""Decoding of event parameters by their PT_* type.

Each decoder takes the parameter's bytes and returns a plain Python value. An
empty (zero-length) parameter decodes to None everywhere: upstream writes empty
parameters where a value could not be read, and old captures converted to the
current layout get empty parameters for what they did not carry.
"""

from __future__ import annotations

import socket
import struct
from typing import Any, Callable, NamedTuple

from .schema import DYNAMIC_PARAMS, PT, ParamInfo

# Socket families as the driver encodes them (PPM_AF_*).
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10


class SockAddr(NamedTuple):
    """PT_SOCKADDR: family plus (ip, port) for inet families or the path for unix."""

    family: int
    addr: str | None = None
    port: int | None = None
    path: str | None = None


class SockTuple(NamedTuple):
    """PT_SOCKTUPLE: a connection 4-tuple (inet) or the unix pointers and path."""

    family: int
    sip: str | None = None
    sport: int | None = None
    dip: str | None = None
    dport: int | None = None
    src_ptr: int | None = None
    dst_ptr: int | None = None
    path: str | None = None


def ipv4_text(b: bytes) -> str:
    """Dotted text of 4 raw address bytes (network order)."""
    if len(b) != 4:
        raise ValueError(f"an IPv4 address has 4 bytes, not {len(b)}")
    return "%d.%d.%d.%d" % (b[0], b[1], b[2], b[3])


def ipv6_text(b: bytes) -> str:
    """Text of 16 raw address bytes as inet_ntop writes it (libs' rendering)."""
    return socket.inet_ntop(socket.AF_INET6, bytes(b))


_V4_MAPPED = bytes(10) + b"\xff\xff"


def _cstr(b: bytes) -> str:
    end = b.find(b"\0")
    if end >= 0:
        b = b[:end]
    return b.decode("utf-8", "surrogateescape")


def _struct(fmt: str) -> Callable[[bytes], Any]:
    s = struct.Struct("<" + fmt)

    def decode(b: bytes) -> Any:
        if len(b) != s.size:
            raise ValueError(f"expected {s.size} bytes, got {len(b)}")
        return s.unpack(b)[0]

    return decode


def _sockaddr(b: bytes) -> SockAddr:
    fam = b[0]
    if fam == AF_INET and len(b) == 7:
        return SockAddr(fam, ipv4_text(b[1:5]), int.from_bytes(b[5:7], "little"))
    if fam == AF_INET6 and len(b) == 19:
        return SockAddr(fam, ipv6_text(b[1:17]), int.from_bytes(b[17:19], "little"))
    if fam == AF_UNIX:
        return SockAddr(fam, path=_cstr(b[1:]))
    return SockAddr(fam)


def _socktuple(b: bytes) -> SockTuple:
    """A tuple; an IPv6 tuple whose two ends are both IPv4-mapped reads as IPv4, as in libs."""
    fam = b[0]
    if fam == AF_INET and len(b) == 13:
        return SockTuple(fam, ipv4_text(b[1:5]), int.from_bytes(b[5:7], "little"),
                         ipv4_text(b[7:11]), int.from_bytes(b[11:13], "little"))
    if fam == AF_INET6 and len(b) == 37:
        sip, dip = b[1:17], b[19:35]
        text = ipv6_text
        if sip.startswith(_V4_MAPPED) and dip.startswith(_V4_MAPPED):
            sip, dip, text = sip[12:], dip[12:], ipv4_text
        return SockTuple(fam, text(sip), int.from_bytes(b[17:19], "little"),
                         text(dip), int.from_bytes(b[35:37], "little"))
    if fam == AF_UNIX and len(b) >= 17:
        src, dst = struct.unpack_from("<QQ", b, 1)
        return SockTuple(fam, src_ptr=src, dst_ptr=dst, path=_cstr(b[17:]))
    return SockTuple(fam)


def _fdlist(b: bytes) -> tuple[tuple[int, int], ...]:
    (count,) = struct.unpack_from("<H", b, 0)
    if 2 + count * 10 > len(b):
        raise ValueError(f"fd list of {count} entries overruns its {len(b)} bytes")
    return tuple(struct.unpack_from("<qH", b, 2 + i * 10) for i in range(count))


def _ipnet(b: bytes) -> str:
    if len(b) == 4:
        return ipv4_text(b)
    if len(b) == 16:
        return ipv6_text(b)
    raise ValueError(f"an IP address has 4 or 16 bytes, not {len(b)}")


def _bytes(b: bytes) -> bytes:
    return bytes(b)


def _charbuf_array(b: bytes) -> tuple[str, ...]:
    """NUL-separated strings (e.g. execve args and env)."""
    if not b:
        return ()
    if b.endswith(b"\0"):
        b = b[:-1]
    return tuple(s.decode("utf-8", "surrogateescape") for s in bytes(b).split(b"\0"))


def _dyn(b: bytes, table: str) -> tuple[ParamInfo, Any]:
    choices = DYNAMIC_PARAMS[table]
    idx = b[0]
    if idx >= len(choices):
        raise ValueError(f"dynamic index {idx} beyond table {table} of {len(choices)}")
    info = choices[idx]
    return info, decode_value(info, bytes(b[1:]))


#: The fixed-size numeric types: their struct format (little-endian).
STRUCT_FORMATS: dict[PT, str] = {
    PT.INT8: "b", PT.INT16: "h", PT.INT32: "i", PT.INT64: "q",
    PT.UINT8: "B", PT.UINT16: "H", PT.UINT32: "I", PT.UINT64: "Q",
    PT.ERRNO: "q", PT.FD: "q", PT.PID: "q",
    PT.FD32: "i", PT.PID32: "i",
    PT.SYSCALLID: "H", PT.SIGTYPE: "B",
    PT.RELTIME: "Q", PT.ABSTIME: "Q",
    PT.PORT: "H", PT.L4PROTO: "B", PT.SOCKFAMILY: "B",
    PT.FLAGS8: "B", PT.FLAGS16: "H", PT.FLAGS32: "I",
    PT.ENUMFLAGS8: "B", PT.ENUMFLAGS16: "H", PT.ENUMFLAGS32: "I",
    PT.UID: "I", PT.GID: "I", PT.MODE: "I", PT.SIGSET: "I",
    PT.DOUBLE: "d",
}
#: The C-string types (decoded up to the first NUL, UTF-8 with surrogateescape).
CSTRING_TYPES = frozenset((PT.CHARBUF, PT.FSPATH, PT.FSRELPATH))

DECODERS: dict[PT, Callable[[bytes], Any]] = {pt: _struct(fmt) for pt, fmt in STRUCT_FORMATS.items()}
DECODERS.update({
    PT.BOOL: lambda b: bool(_struct("I")(b)),
    PT.CHARBUF: _cstr, PT.FSPATH: _cstr, PT.FSRELPATH: _cstr,
    PT.BYTEBUF: _bytes,
    PT.CHARBUFARRAY: _charbuf_array, PT.CHARBUF_PAIR_ARRAY: _charbuf_array,
    PT.SOCKADDR: _sockaddr, PT.SOCKTUPLE: _socktuple, PT.FDLIST: _fdlist,
    PT.IPV4ADDR: ipv4_text, PT.IPV6ADDR: ipv6_text, PT.IPADDR: _ipnet,
    PT.IPV4NET: _ipnet, PT.IPV6NET: _ipnet, PT.IPNET: _ipnet,
})


def decoder_of(info: ParamInfo) -> Callable[[bytes], Any]:
    """The function decoding parameter ``info`` from its (non-empty) bytes, as decode_value."""
    if info.type == PT.DYN:
        table = info.info
        return lambda raw: _dyn(raw, table)  # type: ignore[arg-type]
    return DECODERS.get(info.type, bytes)


def decode_value(info: ParamInfo, raw: bytes) -> Any:
    """Decode ``raw`` as parameter ``info``; None for an empty parameter.

    Raises ValueError when the bytes do not fit the type; the caller adds where.
    """
    if not raw:
        return None
    if info.type == PT.DYN:
        return _dyn(raw, info.info)  # type: ignore[arg-type]
    decoder = DECODERS.get(info.type)
    if decoder is None:
        return bytes(raw)
    return decoder(raw)

