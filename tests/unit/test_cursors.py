"""The history cursor: only a cursor this service issued for this user is accepted."""

import base64

import pytest

from functions.domain.cursors import INVALID_CURSOR, decode_cursor, encode_cursor
from functions.domain.errors import ValidationError

KEY = b"k" * 64


def test_a_cursor_round_trips_for_its_user():
    assert decode_cursor(KEY, "user-1", encode_cursor(KEY, "user-1", 42)) == 42


def test_a_cursor_is_opaque():
    cursor = encode_cursor(KEY, "user-1", 42)
    assert "user-1" not in cursor and "42" not in cursor


def test_a_cursor_of_another_user_is_refused():
    cursor = encode_cursor(KEY, "user-1", 42)
    with pytest.raises(ValidationError, match="cursor"):
        decode_cursor(KEY, "user-2", cursor)


def test_a_cursor_signed_with_another_key_is_refused():
    cursor = encode_cursor(b"other" * 10, "user-1", 42)
    with pytest.raises(ValidationError, match="cursor"):
        decode_cursor(KEY, "user-1", cursor)


def test_every_altered_character_is_refused():
    cursor = encode_cursor(KEY, "user-1", 42)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for index, char in enumerate(cursor):
        for other in (c for c in alphabet if c != char):
            altered = cursor[:index] + other + cursor[index + 1 :]
            with pytest.raises(ValidationError):
                decode_cursor(KEY, "user-1", altered)


def test_a_changed_sequence_with_the_old_mac_is_refused():
    raw = bytearray(base64.urlsafe_b64decode(encode_cursor(KEY, "user-1", 42) + "=="))
    raw[8] = 1  # the sequence's last byte: 42 -> 1
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(ValidationError):
        decode_cursor(KEY, "user-1", forged)


@pytest.mark.parametrize(
    "cursor",
    ["x", "not a cursor", "%%%", "a" * 65, "é" * 8, "AAAA", "", "abc=", "YWJj\n"],
    ids=["short", "spaces", "symbols", "too-long", "non-ascii", "decodes-short", "empty",
         "padding", "newline"],
)  # fmt: skip
def test_malformed_cursors_are_refused_naming_the_parameter(cursor):
    with pytest.raises(ValidationError) as raised:
        decode_cursor(KEY, "user-1", cursor)
    assert str(raised.value) == INVALID_CURSOR


def test_a_cursor_with_padding_or_extra_characters_is_refused():
    cursor = encode_cursor(KEY, "user-1", 42)
    for variant in (cursor + "=", cursor + "A", "A" + cursor, cursor[:-1]):
        with pytest.raises(ValidationError):
            decode_cursor(KEY, "user-1", variant)
