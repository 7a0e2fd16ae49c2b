"""HTML mail bodies as readable plain text, with the standard library's ``html.parser`` only.

Used when a mail has no ``text/plain`` part. The output keeps what a reader needs: paragraphs and
line breaks, list items as ``- item`` (``1. item`` in ordered lists), links as ``text (url)``,
table rows on their own lines, images by their ``alt`` text, quoted blocks (``<blockquote>``)
prefixed with ``> `` so that :mod:`chalicelib.email.reply_text` can cut them like a quoted plain
text reply. ``<script>``, ``<style>``, ``<head>`` and similar never reach the output.

Why not a library: html2text (GPL) and BeautifulSoup (+ a parser) are heavy for the webhook
Lambda, and mail HTML needs only this much. Hostile input: the input is cut at
:data:`MAX_HTML_CHARS`, the output at :data:`MAX_TEXT_CHARS`, and a parser failure falls back to
stripping tags with a regular expression, so the function never raises.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

MAX_HTML_CHARS = 2_000_000
MAX_TEXT_CHARS = 500_000
MAX_LINK_CHARS = 500

_SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript", "svg", "math", "object", "iframe"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "area", "base", "col", "embed", "source"})
_BLOCKS = frozenset({
    "p", "div", "section", "article", "header", "footer", "main", "nav", "aside", "address", "table",
    "thead", "tbody", "tfoot", "tr", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
    "pre", "form", "fieldset", "figure", "figcaption", "center", "blockquote", "li", "hr",
})
_CELLS = frozenset({"td", "th"})
_TAG = re.compile(r"<[^>]*>")
_DANGLING_TAG = re.compile(r"<[A-Za-z/!?][^<>]*$")
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextWriter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.size = 0
        self.skip_depth = 0
        self.pre_depth = 0
        self.quote_depth = 0
        self.lists: list[list[int]] = []  # one [counter] per open list; counter < 0 for bullets
        self.links: list[tuple[str | None, int]] = []  # (href, output index where the text began)
        self.at_line_start = True

    # --- output -------------------------------------------------------------------------
    def write(self, text: str) -> None:
        if not text or self.size > MAX_TEXT_CHARS:
            return
        if self.at_line_start and self.quote_depth:
            text = "> " * self.quote_depth + text
        self.out.append(text)
        self.size += len(text)
        self.at_line_start = text.endswith("\n")

    def newline(self, count: int = 1) -> None:
        if not self.out:
            return  # no blank lines before the first text
        tail = "".join(self.out[-4:])
        present = len(tail) - len(tail.rstrip("\n"))
        for _ in range(max(0, count - present)):
            self.out.append("\n")
            self.size += 1
        self.at_line_start = True

    # --- parser callbacks -------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skip_depth += 1
            return
        if self.skip_depth:
            return
        attributes = dict(attrs)
        if tag == "br":
            self.write("\n")
            self.at_line_start = True
        elif tag == "blockquote":
            self.newline(2)
            self.quote_depth += 1
        elif tag in ("ul", "ol"):
            self.newline()
            self.lists.append([0 if tag == "ol" else -1])
        elif tag == "li":
            self.newline()
            indent = "  " * max(0, len(self.lists) - 1)
            if self.lists and self.lists[-1][0] >= 0:
                self.lists[-1][0] += 1
                self.write(f"{indent}{self.lists[-1][0]}. ")
            else:
                self.write(f"{indent}- ")
        elif tag in _BLOCKS:
            self.newline(2 if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "pre") else 1)
            if tag == "pre":
                self.pre_depth += 1
            if tag == "hr":
                self.write("---\n")
        elif tag in _CELLS:
            if not self.at_line_start:
                self.write("\t")
        elif tag == "img":
            alt = " ".join((attributes.get("alt") or "").split())
            if alt:
                self.write(f"[{alt[:200]}]")
        elif tag == "a":
            self.links.append((attributes.get("href"), len(self.out)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if self.skip_depth:
            return
        if tag == "blockquote":
            self.quote_depth = max(0, self.quote_depth - 1)
            self.newline(2)
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self.newline()
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            self._close_link(href, start)
        elif tag in _BLOCKS and tag != "li":
            if tag == "pre":
                self.pre_depth = max(0, self.pre_depth - 1)
            self.newline(2 if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "pre") else 1)

    def _close_link(self, href: str | None, start: int) -> None:
        url = " ".join((href or "").split())[:MAX_LINK_CHARS]
        label = " ".join("".join(self.out[start:]).split())
        if not url or url.startswith(("#", "javascript:", "cid:", "data:")):
            return
        bare = url[len("mailto:"):] if url.lower().startswith("mailto:") else url
        if not label:
            self.write(bare)
        elif bare.rstrip("/").lower() not in label.lower():
            self.write(f" ({bare})")

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.pre_depth:
            for index, line in enumerate(data.split("\n")):
                if index:
                    self.write("\n")
                self.write(line)
            return
        text = _SPACES.sub(" ", data.replace("\r", " ").replace("\n", " "))
        if self.at_line_start:
            text = text.lstrip(" ")
        self.write(text)


def html_to_text(html: str) -> str:
    """Readable text of an HTML document or fragment; never raises, never returns a tag."""
    source = html[:MAX_HTML_CHARS]
    writer = _TextWriter()
    try:
        writer.feed(source)
        writer.close()
        text = "".join(writer.out)
    except Exception:  # html.parser has raised on malformed declarations
        text = unescape(_TAG.sub(" ", source))
    return _tidy(text)[:MAX_TEXT_CHARS]


def _tidy(text: str) -> str:
    lines = [_SPACES.sub(" ", line).rstrip() for line in text.replace("\r", "").split("\n")]
    tidy = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    # html.parser hands an unclosed tag at the very end of the input back as text: drop it.
    return _DANGLING_TAG.sub("", tidy).rstrip()
