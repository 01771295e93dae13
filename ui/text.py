"""Text from outside (a link, a bank's file, what a person typed) is shown as text, never as markdown or HTML.

Nearly every Streamlit element renders its text as markdown (GitHub-flavoured, with links, images,
bare-URL links, `:red[...]` colours, `:material/...:` icons, `:x:` emoji and `->` arrows), and plotly
reads a little HTML (`<a href>`, `<b>`, `<span style>`, ...) in every text of a chart. `plain(value)`
makes a value read as itself inside markdown; `plain_figure(figure)` does the same for every text of a
figure. `ui.i18n.t` passes each value of a message through `plain`, and `ui.charts` draws every figure
through `plain_figure`, so a page shows outside text as text without asking for it.
"""

from __future__ import annotations

import html
import re

import numpy as np
import plotly.graph_objects as go

# Shown as nothing: breaks a pattern Streamlit would turn into something else after the markdown is read.
WORD_JOINER = "\u2060"
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # ASCII punctuation: CommonMark lets a backslash escape each one
# Where Streamlit finds something in the text it has read, whatever was escaped: :x: emoji, :streamlit: and
# :material_x: icons; http:// and www. addresses and a@b.c mails turned into links; -> <- -- >= <= ~= arrows.
_PATTERN_STARTS = re.compile(r"(?<=:)(?=[^\s:]+:|//)|(?<=[wW]{3})(?=\.)|(?<=@)|(?<=[-<>~])(?=[->=])")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# In a hovertemplate, plotly's placeholders and the markup px writes stay; everything else is text.
_TEMPLATE_CODE = re.compile(r"(%\{[^}]*\}|<br>|</?extra>)")


def plain(value) -> str:
    """`value` as markdown that reads exactly as `str(value)` and makes nothing else: every ASCII punctuation
    mark escaped; shortcodes, web and mail addresses and arrows broken by an invisible word joiner; line breaks
    read as spaces (a value sits inside a line of its message and may not end it)."""
    text = _LINE_BREAK.sub(" ", str(value))
    text = _PATTERN_STARTS.sub(WORD_JOINER, text)
    return _PUNCTUATION.sub(r"\\\1", text)


def _plain_html(value) -> str:
    """`value` as plotly text that reads as itself: plotly reads tags and `&...;` entities, nothing else."""
    return html.escape(str(value), quote=False)


def from_figure(value):
    """A value as it was before `plain_figure` escaped it, for what a click on a chart returns (its customdata)."""
    return html.unescape(value) if isinstance(value, str) else value


def plain_figure(figure: go.Figure) -> go.Figure:
    """`figure` with every text in its traces and layout turned into plotly text that reads as itself, in place
    (its plotly template, ours, is left as it is)."""
    spec = figure.to_plotly_json()
    with figure.batch_update():
        for trace, data in zip(figure.data, spec["data"]):
            trace.update(_escaped(data))
        figure.update_layout(_escaped({key: value for key, value in spec["layout"].items() if key != "template"}))
    return figure


def _escaped(value, key: str = ""):
    if isinstance(value, str):
        if key.endswith("template"):
            parts = _TEMPLATE_CODE.split(value)
            return "".join(part if i % 2 else _plain_html(part) for i, part in enumerate(parts))
        return _plain_html(value)
    if isinstance(value, dict):
        return {k: _escaped(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escaped(v, key) for v in value]
    if isinstance(value, np.ndarray) and value.dtype.kind in "OUS":
        return np.frompyfunc(lambda v: _escaped(v, key), 1, 1)(value.astype(object))
    return value
