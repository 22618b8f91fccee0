"""Every Markdown link of the README and docs/ resolves inside the repository.

A clone holds nothing outside it, so a link to a sibling folder or to the web can break without
anyone here seeing it: only local addresses (the examples of `make run`) may be absolute, and a
link's anchor must be a heading of the page it points to.
"""

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\]\n]|\n(?!\n))*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^>\s]+)>")
# A reference-style link's definition ("[name]: https://..."), which the inline form misses.
REFERENCE = re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
# A bare web address in prose, which GitHub's renderer turns into a link by itself.
BARE = re.compile(r"(?<![(<\w/])(https?://[^\s<>()`]+)")


def links(text: str) -> list[str]:
    """The targets of the links outside code: inline links and images, autolinks, reference
    definitions and bare web addresses."""
    prose = INLINE_CODE.sub("", FENCE.sub("", text))
    inline = [m.group(1) for m in LINK.finditer(prose)]
    # As GitHub's renderer does, a sentence's closing punctuation is not part of the address.
    bare = [m.rstrip(".,;:!?'\"") for m in BARE.findall(LINK.sub("", REFERENCE.sub("", prose)))]
    return inline + AUTOLINK.findall(prose) + REFERENCE.findall(prose) + bare


def anchors(text: str) -> set[str]:
    """GitHub's anchor of each heading: lower case, punctuation dropped, spaces as hyphens."""
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", FENCE.sub("", text), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        found.add(slug)
    return found


def problem(page: Path, target: str, root: Path = ROOT) -> str | None:
    """Why the link leaves the repository or points at nothing, or None."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        if parts.scheme in ("http", "https") and parts.hostname in LOCAL_HOSTS:
            return None
        return f"{target}: leaves the repository"
    path = (page.parent / unquote(parts.path)).resolve() if parts.path else page
    if not path.is_relative_to(root):
        return f"{target}: outside the repository"
    if not path.exists():
        return f"{target}: {path.relative_to(root)} does not exist"
    is_markdown = path.suffix == ".md"
    if parts.fragment and is_markdown and parts.fragment not in anchors(path.read_text()):
        return f"{target}: no heading #{parts.fragment} in {path.relative_to(root)}"
    return None


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_link_resolves_inside_the_repository(page):
    found = [problem(page, target) for target in links(page.read_text())]

    assert [p for p in found if p] == []


def test_the_readme_links_the_pages_a_newcomer_goes_to_next():
    targets = set(links((ROOT / "README.md").read_text()))

    assert {"docs/api.md", "docs/architecture.md", "docs/local-runtime.md"} <= targets
    assert {"docs/known-gaps.md", "docs/decisions.md", "docs/deploy.md"} <= targets


@pytest.mark.parametrize(
    ("target", "found"),
    [
        ("../shared/spec/contract.md", "outside the repository"),
        ("https://docs.aws.amazon.com/x.html", "leaves the repository"),
        ("http://example.com", "leaves the repository"),
        ("mailto:someone@example.com", "leaves the repository"),
        ("docs/missing.md", "does not exist"),
        ("docs/api.md#no-such-heading", "no heading #no-such-heading"),
        ("#nowhere", "no heading #nowhere"),
        ("http://127.0.0.1:3000/_console/", None),
        ("docs/api.md#invariants", None),
        ("#the-api-by-example", None),
        ("docs/console-compensated.png", None),
    ],
    ids=["sibling-folder", "web-page", "plain-http", "mail", "missing-file", "missing-anchor",
         "missing-own-anchor", "local-example", "anchor", "own-anchor", "image"],
)  # fmt: skip
def test_a_link_that_leaves_or_points_at_nothing_is_found(target, found):
    result = problem(ROOT / "README.md", target)

    assert result is None if found is None else result is not None and found in result


def test_links_in_code_are_not_links_and_images_and_autolinks_are():
    text = (
        "See [a](docs/a.md) and ![b](b.png), <https://example.com>.\n"
        "`[c](nowhere.md)`\n```\n[d](nowhere.md)\n```\n"
    )

    assert links(text) == ["docs/a.md", "b.png", "https://example.com"]


def test_reference_definitions_and_bare_addresses_are_links_too():
    text = (
        "Read [the guide][g] or https://example.com/bare, not `https://in.code/`.\n"
        "A [link](https://example.com/inline) counts once.\n\n"
        "[g]: https://example.com/reference\n"
    )

    assert sorted(links(text)) == [
        "https://example.com/bare",
        "https://example.com/inline",
        "https://example.com/reference",
    ]


def test_headings_become_github_anchors():
    text = "# Known gaps: where `x` differs\n## The read side: history and summaries\n"

    assert anchors(text) == {
        "known-gaps-where-x-differs",
        "the-read-side-history-and-summaries",
    }
