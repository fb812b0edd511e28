"""The kernel-worker channels' framing (common/worker_wire.hpp), for tests that speak or forge it: one message is
one frame, big-endian u32 signature length, signature, u64 header length, header, u64 blob length, blob. The
signature (common/channel_mac.hpp) is `salt (16 bytes), message number (u64), tag (16 bytes)`: the tag is GMAC,
AES-256-GCM over everything after the signature with the message number as nonce, under the key SHA-256(worker
key, NUL, channel, NUL, salt)."""

import hashlib
import os
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SALT_BYTES, NUMBER_BYTES, TAG_BYTES = 16, 8, 16


def pack(signature, header, blob):
    return struct.pack(">I", len(signature)) + signature + signed_bytes(header, blob)


def signed_bytes(header, blob):
    return struct.pack(">Q", len(header)) + header + struct.pack(">Q", len(blob)) + blob


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


def _tag(key, channel, salt, number, header, blob):
    derived = hashlib.sha256(key + b"\0" + channel + b"\0" + salt).digest()
    nonce = struct.pack(">Q", number) + bytes(4)
    return AESGCM(derived).encrypt(nonce, b"", signed_bytes(header, blob))  # no plaintext: the tag alone


def new_salt():
    """A sender's salt: it signs every message with the same one (a receiver keeps to the first it verified)."""
    return os.urandom(SALT_BYTES)


def sign(key, channel, salt, number, header, blob=b""):
    """The signature of message `number` of the sender with this salt."""
    return salt + struct.pack(">Q", number) + _tag(key, channel, salt, number, header, blob)


def seal(key, channel, salt, number, header, blob=b""):
    """One signed frame, as worker_wire::seal_text writes it."""
    return pack(sign(key, channel, salt, number, header, blob), header, blob)


def signed_number(key, channel, signature, header, blob=b""):
    """The message number `signature` carries if it is genuine for this key and channel; None otherwise."""
    if len(signature) != SALT_BYTES + NUMBER_BYTES + TAG_BYTES:
        return None
    salt, number = signature[:SALT_BYTES], struct.unpack_from(">Q", signature, SALT_BYTES)[0]
    expected = _tag(key, channel, salt, number, header, blob)
    return number if expected == signature[SALT_BYTES + NUMBER_BYTES:] else None
