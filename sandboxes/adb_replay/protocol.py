"""The adb transport wire format (system/core/adb/protocol.txt): a 24-byte little-endian header, then the payload.

    command, arg0, arg1, data_length, data_check (byte sum), magic (command ^ 0xffffffff)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


def _cmd(name: bytes) -> int:
    return struct.unpack("<I", name)[0]


A_CNXN, A_OPEN, A_OKAY, A_WRTE, A_CLSE = (_cmd(n) for n in (b"CNXN", b"OPEN", b"OKAY", b"WRTE", b"CLSE"))
A_AUTH, A_STLS, A_SYNC = (_cmd(n) for n in (b"AUTH", b"STLS", b"SYNC"))
NAMES = {A_CNXN: "CNXN", A_OPEN: "OPEN", A_OKAY: "OKAY", A_WRTE: "WRTE", A_CLSE: "CLSE", A_AUTH: "AUTH",
         A_STLS: "STLS", A_SYNC: "SYNC"}
# 0x01000001: peers skip the payload checksum (we still send a correct one).
A_VERSION = 0x01000001
MAX_PAYLOAD = 256 * 1024
HEADER = struct.Struct("<6I")


class ProtocolError(ValueError):
    pass


@dataclass(frozen=True)
class Message:
    command: int
    arg0: int
    arg1: int
    data: bytes = b""

    @property
    def name(self) -> str:
        return NAMES.get(self.command, hex(self.command))

    def pack(self) -> bytes:
        return HEADER.pack(self.command, self.arg0, self.arg1, len(self.data), sum(self.data) & 0xFFFFFFFF,
                           self.command ^ 0xFFFFFFFF) + self.data


def unpack_header(header: bytes) -> tuple[int, int, int, int]:
    """(command, arg0, arg1, data_length) of a header, checked against its magic."""
    command, arg0, arg1, length, _check, magic = HEADER.unpack(header)
    if magic != command ^ 0xFFFFFFFF:
        raise ProtocolError(f"bad adb header: magic {magic:#x} does not match command {command:#x}")
    if command not in NAMES:
        raise ProtocolError(f"unknown adb command {command:#x}")
    if length > 16 * 1024 * 1024:
        raise ProtocolError(f"adb payload of {length} bytes is larger than any peer sends")
    return command, arg0, arg1, length


# Shell protocol v2 (shell,v2:): each packet is an id byte and a little-endian length, then the data.
SHELL_STDIN, SHELL_STDOUT, SHELL_STDERR, SHELL_EXIT, SHELL_CLOSE_STDIN, SHELL_WINDOW_SIZE = range(6)


def shell_packet(packet_id: int, data: bytes) -> bytes:
    return struct.pack("<BI", packet_id, len(data)) + data
