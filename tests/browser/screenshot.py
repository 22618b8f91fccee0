"""The execution view's screenshots in docs/, at 1366 x 768 (`make screenshot`):

- console-list.png: the list of executions (those below, an overdraft and a transfer);
- console-succeeded.png: a credit that committed;
- console-compensated.png: a credit whose UpdateBalance crashes after committing: the Catch runs
  DeleteTransaction (which reverts the commit) and ReleaseLockAfterFailure, and the API answers
  500. The failing state's panel is the one shown.

Each is the whole page, sections collapsed as a visitor first sees them.

A PNG is rewritten only when what it shows changed. Every run differs in ids, times and
durations (and so in pixels), and a failed function's stack trace names the checkout, the
packages' directory and line numbers, so what is compared is the content: the page's HTML with
those masked, the console's static files and the viewport, hashed; the hash is kept in the PNG
itself (a tEXt chunk), so the tracked file says what it shows.
"""

from __future__ import annotations

import hashlib
import re
import struct
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = ("list", "succeeded", "compensated")  # docs/console-<page>.png
OUTPUT = DOCS / "console-compensated.png"
STATIC = ROOT / "infra" / "console" / "static"
VIEWPORT = {"width": 1366, "height": 768}
CONTENT_KEY = b"wallet-console-content"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# What changes from run to run without the view changing, and what stands in for it.
VARYING = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?"), "<instant>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<date>"),  # the list's and the summary's dates
    (re.compile(r"\b\d{2}:\d{2}:\d{2}(?:\.\d+)?"), "<clock>"),
    (re.compile(r"\b\d+(?:\.\d+)? ?ms\b"), "<duration>"),
    (re.compile(r"\b(left|width): [\d.]+%"), r"\1: <share>"),
    (re.compile(r"\b1\d{9}(?:\d{3})?\b"), "<epoch>"),  # lease expiries, in seconds or ms
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),  # the server's free port
    # A failed function's stack trace: where the packages and the checkout are, and the lines.
    (re.compile(r"/[^\s\"\\]*/site-packages/"), "<site-packages>/"),
    (re.compile(r"/[^\s\"\\]*?/(?=(?:functions|infra|tests)/)"), "<checkout>/"),
    (re.compile(r"\bline \d+"), "line <n>"),
]


def masked(html: str) -> str:
    for pattern, replacement in VARYING:
        html = pattern.sub(replacement, html)
    return html


def fingerprint(html: str, static: Path = STATIC) -> str:
    """The hash of what a screenshot of this page shows, whatever run it came from."""
    digest = hashlib.sha256(masked(html).encode())
    for file in sorted(static.iterdir()):
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    digest.update(repr(sorted(VIEWPORT.items())).encode())
    return digest.hexdigest()


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    chunks, offset = [], len(PNG_SIGNATURE)
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        chunks.append((kind, png[offset + 8 : offset + 8 + length]))
        offset += 12 + length
    return chunks


def content_of(png: bytes) -> str | None:
    """The content hash a PNG written here carries, or None."""
    for kind, data in _chunks(png):
        key, _, value = data.partition(b"\0")
        if kind == b"tEXt" and key == CONTENT_KEY:
            return value.decode("latin-1")
    return None


def with_content(png: bytes, content: str) -> bytes:
    """The PNG with its content hash as a tEXt chunk right after the header (IHDR)."""
    data = CONTENT_KEY + b"\0" + content.encode("latin-1")
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + data))
    header_end = len(PNG_SIGNATURE) + 12 + struct.unpack(">I", png[8:12])[0]
    return png[:header_end] + chunk + png[header_end:]


def save(png: bytes, html: str, output: Path) -> bool:
    """Write the PNG unless `output` already shows the same content. Whether it wrote."""
    content = fingerprint(html)
    if output.is_file() and content_of(output.read_bytes()) == content:
        return False
    output.write_bytes(with_content(png, content))
    return True


def capture(url: str) -> dict[str, tuple[bytes, str]]:
    """Each page's screenshot and HTML, by its name in PAGES."""
    import requests
    from playwright.sync_api import sync_playwright

    from infra.local.awslambda.functions import FaultPoint
    from infra.local.runtime import active_runtime
    from tests.browser.conftest import CHROMIUM

    def credit(amount: str, key: str) -> requests.Response:
        return requests.post(
            f"{url}/transactions",
            json={"userId": "alice", "ammount": amount, "type": "credit"},
            headers={"Idempotent-Key": key},  # a fresh runtime: the same keys every run
            timeout=30,
        )

    succeeded = credit("12.50", "screenshot-1")
    assert succeeded.status_code == 201, succeeded.text
    # More rows for the list: an overdraft refused and a transfer.
    overdraft = requests.post(
        f"{url}/transactions",
        json={"userId": "bob", "ammount": "500.00", "type": "debit"},
        headers={"Idempotent-Key": "screenshot-3"},
        timeout=30,
    )
    assert overdraft.status_code == 422, overdraft.text
    transfer = requests.post(
        f"{url}/transfers",
        json={"fromUserId": "alice", "toUserId": "bob", "ammount": "5.00"},
        headers={"Idempotent-Key": "screenshot-4"},
        timeout=30,
    )
    assert transfer.status_code == 201, transfer.text
    active_runtime().lambdas.inject_fault("UpdateBalanceFunction", FaultPoint.AFTER)
    compensated = credit("25.00", "screenshot-2")
    active_runtime().lambdas.clear_faults()
    assert compensated.status_code == 500, compensated.text
    addresses = {
        "list": f"{url}/_console/",
        "succeeded": f"{url}/_console/requests/{succeeded.headers['x-amzn-RequestId']}",
        "compensated": f"{url}/_console/requests/{compensated.headers['x-amzn-RequestId']}",
    }
    captured = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
        for name in PAGES:
            page.goto(addresses[name])
            captured[name] = (page.screenshot(full_page=True), page.content())
        browser.close()
    return captured


def main(directory: Path = DOCS) -> list[Path]:
    """Take the screenshots; the files it (re)wrote."""
    from infra.composition import serving

    with serving() as url:
        captured = capture(url)
    written = []
    for name in PAGES:
        output = directory / f"console-{name}.png"
        png, html = captured[name]
        if save(png, html, output):
            written.append(output)
        print(f"wrote {output}" if output in written else f"{output} shows this already")
    return written


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS)
