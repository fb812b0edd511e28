"""The kernel-worker channels' framing (common/worker_wire.hpp), for tests that speak or forge it: one message is
one frame, big-endian u32 signature length, signature, u64 header length, header, u64 blob length, blob."""

import struct


def pack(signature, header, blob):
    return (struct.pack(">I", len(signature)) + signature + struct.pack(">Q", len(header)) + header +
            struct.pack(">Q", len(blob)) + blob)


def unpack(frame):
    """(signature, header, blob) of one frame."""
    (length,) = struct.unpack_from(">I", frame)
    signature, at = frame[4:4 + length], 4 + length
    (length,) = struct.unpack_from(">Q", frame, at)
    header, at = frame[at + 8:at + 8 + length], at + 8 + length
    (length,) = struct.unpack_from(">Q", frame, at)
    blob, at = frame[at + 8:at + 8 + length], at + 8 + length
    assert at == len(frame), "nothing may follow the blob"
    return signature, header, blob
