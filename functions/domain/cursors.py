"""The history's page cursor: opaque to clients, bound to the user, and tamper-evident.

A cursor names the sequence the next page starts below. It is signed with HMAC-SHA256 over the
user and that sequence, so a client can neither forge one, nor alter one, nor use one issued for
another user: each of those fails the same check and is refused alike (nothing tells a prober
which of the three it was).
"""

import base64
import binascii
import hashlib
import hmac
import re
import struct

from functions.domain.errors import ValidationError

_VERSION = 1
_HEADER = struct.Struct(">BQ")  # version, sequence
_MAC_BYTES = 16  # HMAC-SHA256 cut to 128 bits: forging one takes 2**128 guesses on average
# Keys the MAC to this one use, so the key could never sign anything else by accident.
_CONTEXT = b"wallet/history-cursor\x00"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
INVALID_CURSOR = "cursor is malformed, altered, or was issued for another user"


def _mac(key: bytes, user_id: str, header: bytes) -> bytes:
    # A userId has no control characters (parse_user_id), so the NUL separator is unambiguous.
    message = _CONTEXT + user_id.encode("utf-8") + b"\x00" + header
    return hmac.new(key, message, hashlib.sha256).digest()[:_MAC_BYTES]


def encode_cursor(key: bytes, user_id: str, before_sequence: int) -> str:
    header = _HEADER.pack(_VERSION, before_sequence)
    return _encode(header + _mac(key, user_id, header))


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(key: bytes, user_id: str, cursor: str) -> int:
    """The sequence the page starts below.

    Raises: ValidationError naming `cursor` if it is not one this service issued for `user_id`.
    """
    if not _BASE64URL.fullmatch(cursor):
        raise ValidationError(INVALID_CURSOR)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except binascii.Error as error:
        raise ValidationError(INVALID_CURSOR) from error
    # Only the one spelling this service writes: base64 lets the last character's spare bits
    # vary, and an altered cursor must never pass for the original.
    if len(raw) != _HEADER.size + _MAC_BYTES or _encode(raw) != cursor:
        raise ValidationError(INVALID_CURSOR)
    header, mac = raw[: _HEADER.size], raw[_HEADER.size :]
    if not hmac.compare_digest(mac, _mac(key, user_id, header)):
        raise ValidationError(INVALID_CURSOR)
    version, sequence = _HEADER.unpack(header)
    if version != _VERSION or sequence < 1:
        raise ValidationError(INVALID_CURSOR)
    return int(sequence)
