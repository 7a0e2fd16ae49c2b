"""HTML mail bodies as readable text: structure kept, markup and scripts gone, never an exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.email.html_text import html_to_text


def test_paragraphs_breaks_lists_and_links() -> None:
    html = ("<p>Hello <b>Mario</b>,</p><p>see <a href='https://x.example/a'>the page</a> or "
            "<a href='https://y.example'>https://y.example</a>.</p><ul><li>one</li><li>two</li></ul>"
            "<ol><li>first</li><li>second</li></ol>Line 1<br>Line 2")
    assert html_to_text(html) == ("Hello Mario,\n\nsee the page (https://x.example/a) or https://y.example.\n\n"
                                  "- one\n- two\n1. first\n2. second\nLine 1\nLine 2")


def test_scripts_styles_head_and_comments_never_reach_the_text() -> None:
    html = ("<html><head><title>T</title><style>p{color:red}</style></head><body><script>alert(1)</script>"
            "<!-- hidden --><noscript>enable js</noscript><p>visible</p></body></html>")
    assert html_to_text(html) == "visible"


def test_blockquotes_become_quoted_lines_for_the_reply_splitter() -> None:
    html = "<div>Yes.</div><blockquote>Did it arrive?<br>Thanks</blockquote>"
    assert html_to_text(html) == "Yes.\n\n> Did it arrive?\n> Thanks"


def test_mailto_links_images_tables_and_entities() -> None:
    html = ("<a href='mailto:help@x.example'>help@x.example</a> <img alt='logo' src='cid:1'>"
            "<table><tr><td>a</td><td>b</td></tr></table>caf&eacute; &lt;ok&gt; &amp;")
    assert html_to_text(html) == "help@x.example [logo]\n\na b\n\ncafé <ok> &"


def test_pre_keeps_its_lines() -> None:
    assert html_to_text("<pre>a  b\n  c</pre>") == "a b\n c"


def test_malformed_markup_and_an_unclosed_tag_at_the_end() -> None:
    assert html_to_text("<p>ok<div><<<>>>") in ("ok\n<<>>>", "ok\n\n<<>>>", "ok\n<<<>>>")
    assert html_to_text("<p>ok</p><div class=") == "ok"
    assert html_to_text("<![CDATA[x]]><!DOCTYPE html><?php echo 1 ?>text") == "text"


_TAGS = st.sampled_from(["p", "div", "span", "b", "a", "ul", "ol", "li", "br", "table", "tr", "td", "blockquote",
                         "script", "style", "head", "title", "pre", "img", "h1", "hr", "font", "center"])
_TEXT = st.text(alphabet=st.characters(blacklist_characters="<>&", blacklist_categories=("Cs",)), max_size=30)
_ATTRS = st.lists(st.tuples(st.sampled_from(["href", "alt", "class", "style", "src"]),
                            st.text(alphabet="abcdefghij:/. ", max_size=20)), max_size=3)


@st.composite
def markup(draw: st.DrawFn) -> str:
    pieces = []
    for _ in range(draw(st.integers(0, 40))):
        choice = draw(st.integers(0, 2))
        tag = draw(_TAGS)
        if choice == 0:
            attrs = "".join(f' {name}="{value}"' for name, value in draw(_ATTRS))
            pieces.append(f"<{tag}{attrs}>")
        elif choice == 1:
            pieces.append(f"</{tag}>")
        else:
            pieces.append(draw(_TEXT))
    return "".join(pieces)


@settings(max_examples=300, deadline=None)
@given(markup())
def test_tag_soup_never_leaves_a_tag(html: str) -> None:
    text = html_to_text(html)
    assert "<" not in text
    assert all(">" not in line.lstrip("> ") for line in text.split("\n"))  # only quote prefixes


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2_000))
def test_any_text_never_raises(html: str) -> None:
    text = html_to_text(html)
    assert isinstance(text, str)
    assert text == text.strip()
