"""`make screenshot` rewrites the tracked PNG only when what it shows changed."""

import struct
import zlib

import pytest

from tests.browser import screenshot


def tiny_png() -> bytes:
    """A valid 1x1 grey PNG, built by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x80")
    return (
        screenshot.PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


def test_the_content_hash_travels_in_the_png_and_keeps_it_valid():
    png = screenshot.with_content(tiny_png(), "abc123")

    assert screenshot.content_of(tiny_png()) is None
    assert screenshot.content_of(png) == "abc123"
    kinds = [kind for kind, _ in screenshot._chunks(png)]
    assert kinds == [b"IHDR", b"tEXt", b"IDAT", b"IEND"]
    for kind, data in screenshot._chunks(png):  # every chunk's CRC still right
        offset = png.index(kind + data)
        (crc,) = struct.unpack(">I", png[offset + 4 + len(data) : offset + 8 + len(data)])
        assert crc == zlib.crc32(kind + data)


def test_a_file_that_is_no_png_is_refused():
    with pytest.raises(ValueError, match="not a PNG"):
        screenshot.content_of(b"GIF89a")


def test_what_varies_from_run_to_run_is_masked_and_what_is_shown_is_not():
    first = (
        "<title>6b8f8296-65df-4c6c-97fe-de9130588632</title><dd>06:44:42.958</dd>"
        '<dd>1570 ms</dd><div style="left: 0.07%; width: 27.3%"></div>'
        '"leaseUntil": 1796625716, "N": "1796625817848", Host: 127.0.0.1:38203, '
        '"createdAt": "2026-12-07T06:44:43.120Z", <b>alice</b> 25.00'
    )
    second = (
        "<title>8ade5052-6587-40ba-9feb-51ba5a135771</title><dd>07:01:02.003</dd>"
        '<dd>96.0 ms</dd><div style="left: 1.5%; width: 3%"></div>'
        '"leaseUntil": 1796629999, "N": "1796629999001", Host: 127.0.0.1:41000, '
        '"createdAt": "2026-12-08T00:00:00.000Z", <b>alice</b> 25.00'
    )

    assert screenshot.masked(first) == screenshot.masked(second)
    assert screenshot.masked(first) != screenshot.masked(first.replace("alice", "bob"))
    assert screenshot.masked(first) != screenshot.masked(first.replace("25.00", "26.00"))


def test_a_stack_trace_reads_the_same_from_any_checkout_and_after_lines_move():
    def trace(checkout: str, venv: str, line: int) -> str:
        return (
            f'"stackTrace":["  File \\"{checkout}/functions/handlers/update_balance.py\\", '
            f'line {line}, in lambda_handler", "  File \\"{venv}/lib/python3.11/'
            f'site-packages/aws_lambda_powertools/logging/logger.py\\", line 554"]'
        )

    here = trace(str(screenshot.ROOT), f"{screenshot.ROOT}/.venv", 28)
    elsewhere = trace("/home/someone/wallet", "/opt/venvs/wallet", 31)

    assert screenshot.masked(here) == screenshot.masked(elsewhere)
    assert "update_balance.py" in screenshot.masked(here)  # which file still shows
    assert screenshot.masked(here) != screenshot.masked(here.replace("update_balance", "put"))


def test_the_png_is_written_only_when_its_content_changed(tmp_path):
    output = tmp_path / "shot.png"
    run_1 = "<p>execution 6b8f8296-65df-4c6c-97fe-de9130588632 took 1570 ms</p>"
    run_2 = "<p>execution 8ade5052-6587-40ba-9feb-51ba5a135771 took 96 ms</p>"

    assert screenshot.save(tiny_png(), run_1, output) is True
    written = output.read_bytes()
    assert screenshot.save(tiny_png(), run_2, output) is False  # the same view, another run
    assert output.read_bytes() == written
    assert screenshot.save(tiny_png(), "<p>a changed view</p>", output) is True
    assert screenshot.content_of(output.read_bytes()) == screenshot.fingerprint(
        "<p>a changed view</p>"
    )


def test_a_change_to_the_consoles_static_files_changes_the_content(tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    (static / "console.css").write_text("body { color: black }")
    before = screenshot.fingerprint("<p>x</p>", static)
    (static / "console.css").write_text("body { color: red }")

    assert screenshot.fingerprint("<p>x</p>", static) != before
