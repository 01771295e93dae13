"""How Streamlit and plotly read text, for tests that check what a source shows and what it makes.

Streamlit's frontend (1.67) reads markdown as CommonMark with GitHub's extensions (markdown-it renders that
here), then looks in the text it has read for more: the patterns below, copied from its bundled
StreamlitMarkdown, remark-emoji and mdast-util-gfm-autolink-literal code. Its syntax extensions (`:red[..]`
directives, `$..$` maths) start with a punctuation mark, so an escaped source cannot open them. Plotly reads
its own small set of tags and entities in every text of a chart (svg_text_utils, also copied).
"""

from __future__ import annotations

import html
import re
import urllib.parse
from dataclasses import dataclass, field
from html.parser import HTMLParser

from markdown_it import MarkdownIt

from ui.text import WORD_JOINER

_MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
FOUND_AFTER_READING = {
    "emoji": re.compile(r":\+1:|:-1:|:[\w-]+:", re.ASCII),
    "icon": re.compile(r":material_(\w+):", re.ASCII),
    "logo": re.compile(":streamlit:"),
    "arrow": re.compile(r"(^|\s)(<->|->|<-|--|>=|<=|~=)(\s|$)"),
    "web link": re.compile(r"(https?://|www(?=\.))[-.\w]+", re.IGNORECASE | re.ASCII),
    "mail link": re.compile(r"[-.\w+]+@[-\w]+(\.[-\w]+)+", re.ASCII),
}
_PUNCTUATION = r"[!-/:-@\[-`{-~]"  # ASCII punctuation
_PLOTLY_TAG = re.compile(r"<(/?)([^ >]*)(\s+(.*))?>", re.IGNORECASE)
_PLOTLY_TAGS = {"br", "sup", "sub", "s", "u", "b", "i", "a", "span", "em"}
_PLOTLY_ENTITIES = {"mu": "μ", "amp": "&", "lt": "<", "gt": ">", "nbsp": "\xa0", "times": "×", "plusmn": "±",
                    "deg": "°"}


def markdown_html(source: str) -> str:
    return _MARKDOWN.render(source)


def markdown_made(source: str) -> list[str]:
    """Everything reading `source` makes besides its text: elements (one paragraph aside) and what Streamlit
    finds in the text afterwards."""
    tags = [tag for tag in re.findall(r"<([a-z][a-z0-9]*)", markdown_html(source)) if tag != "p"]
    return tags + [name for name, pattern in FOUND_AFTER_READING.items() if pattern.search(_read(source))]


def unescaped_punctuation(source: str) -> list[str]:
    """The punctuation marks of `source` no backslash escapes: each may open syntax (an extension's too)."""
    return re.findall(_PUNCTUATION, re.sub(r"\\" + _PUNCTUATION, "", source))


def shown_markdown(source: str) -> str:
    """The text a reader sees: the rendered HTML without its tags, word joiners (which show as nothing) left out."""
    return _read(source).replace(WORD_JOINER, "")


def _read(source: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", markdown_html(source))).strip()


def plotly_made(text: str) -> list[str]:
    """The tags plotly would draw from `text` (a link, bold, a styled span ...)."""
    return [match[2].lower() for part in re.split(r"(<[^<>]*>)", text)
            if (match := _PLOTLY_TAG.fullmatch(part)) and match[2].lower() in _PLOTLY_TAGS]


def shown_plotly(text: str) -> str:
    """What plotly shows of `text` when it holds no tag it reads."""
    return re.sub(r"&(#\d+|#x[\da-fA-F]+|[a-z]+);", lambda m: _entity(m[1]) or m[0], text)


def _entity(name: str) -> str | None:
    if name.startswith("#"):
        return chr(int(name[2:], 16) if name[1] == "x" else int(name[1:]))
    return _PLOTLY_ENTITIES.get(name)


@dataclass
class Sparkline:
    """A sparkline of ui.charts as the browser reads its HTML: its name, each month's words (what a hover or a tap
    shows), the SVG of its image, and every element the markup makes."""
    label: str = ""
    words: list[list[str]] = field(default_factory=list)
    image: str = ""
    tags: list[str] = field(default_factory=list)


def sparkline(body: str) -> Sparkline:
    found = Sparkline()

    class Reader(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.tags.append(tag)
            attrs = dict(attrs)
            if tag == "div" and "aria-label" in attrs:
                found.label = attrs["aria-label"]
            elif tag == "img":
                found.image = urllib.parse.unquote(attrs["src"].removeprefix("data:image/svg+xml,"))
            elif tag == "li":
                found.words.append([""])
            elif tag == "br":
                found.words[-1].append("")

        def handle_data(self, data):
            if found.words and found.tags[-1] not in ("style", "i"):
                found.words[-1][-1] += data

    Reader().feed(body)
    return found
