"""The one place where message HTML is made: called once when a message is saved.

Agents write Markdown (rendered, then sanitised to an allow-list of tags, attributes and URL schemes);
visitors write plain text (escaped, with bare URLs made into links); system notes, made from names
people typed, are escaped and never linkified. Clients insert only this stored HTML and never build
markup from user text.

Rendering is bounded, for Python-Markdown took seconds on ``"[" * 5000`` and recursed without end on
deep nesting, and linkify took a second on ``"(" * 5000``. An agent's text is checked in one pass
before Markdown runs (``limits``), Markdown is metered while it runs (``meter``), and the HTML it made
is counted before bleach reads it; a text past a limit is refused with a reason its writer can act on
(``InvalidInput``, answered ``invalid``). Links are made in linear time (``links``). And it runs off
the database thread every socket shares: consumers render first (``render_async``, in place when that
is cheap, else on two threads of its own) and hand the ``Rendered`` text to the service, which stores
its HTML, or makes it itself when it is not of this very text.
"""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import bleach
from bleach.linkifier import Linker

from chat.errors import InvalidInput

from . import meter
from .limits import MAX_ELEMENTS, MAX_LINKS, MAX_MARKS, MAX_NESTING, TOO_DEEP, TOO_MANY_ELEMENTS, markdown_refusal
from .links import HTML_MAY_HAVE_LINK, URL_RE, escape_plain, link_attrs, linkify_plain, may_have_link, quick_to_linkify

__all__ = ["MARKDOWN", "PLAIN", "MAX_ELEMENTS", "MAX_LINKS", "MAX_MARKS", "MAX_NESTING", "URL_RE", "Rendered",
           "html_of", "markdown_refusal", "render", "render_async", "render_in_place", "render_markdown",
           "render_note", "render_plain"]

MARKDOWN = "markdown"
PLAIN = "plain"

ALLOWED_TAGS = [
    "p", "br", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li", "a", "hr",
    "h3", "h4", "h5", "h6", "del",
]
ALLOWED_ATTRIBUTES = {"a": ["href", "title", "rel", "target"]}
ALLOWED_PROTOCOLS = ["http", "https", "mailto"]


class _Tools(threading.local):
    """Markdown, bleach's cleaner and its linker keep state while they work: one set per thread."""

    def __init__(self):
        self.markdown = meter.new_markdown()
        # Two html5lib passes, not one Cleaner with a LinkifyFilter: that one treats entities otherwise
        # (`&amp;` typed in code would show as "&").
        self.cleaner = bleach.Cleaner(tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, protocols=ALLOWED_PROTOCOLS,
                                      strip=True)
        self.linker = Linker(callbacks=[link_attrs], parse_email=False, url_re=URL_RE)


_tools = _Tools()


def render_markdown(text: str) -> str:
    """Agent replies: Markdown, sanitised to an allow-list of tags, attributes and URL schemes.
    Raises ``InvalidInput`` when the text is past the limits."""
    refusal = markdown_refusal(text)
    if refusal:
        raise InvalidInput(refusal)
    try:
        raw = meter.start(_tools.markdown).convert(text)
    except (meter.TooComplex, RecursionError) as exc:
        _tools.markdown = meter.new_markdown()  # stopped half way: its state is not to be trusted
        raise InvalidInput(str(exc) if isinstance(exc, meter.TooComplex) else TOO_DEEP) from None
    if raw.count("<") + raw.count("&") > MAX_ELEMENTS:
        raise InvalidInput(TOO_MANY_ELEMENTS)
    try:
        clean = _tools.cleaner.clean(raw)
        # Linkify makes bare URLs into links and gives every link its rel and target; with neither to
        # do, its second html5lib pass would hand back the same HTML.
        return _tools.linker.linkify(clean) if HTML_MAY_HAVE_LINK.search(clean) else clean
    except RecursionError:  # html5lib on raw HTML nested deeper than the checks foresaw
        raise InvalidInput(TOO_DEEP) from None


def render_plain(text: str) -> str:
    """Visitor text: escaped, line breaks kept, bare URLs made into links. Never refused."""
    if not may_have_link(text):
        return escape_plain(text)
    return linkify_plain(text, _tools.linker)


def render_note(text: str) -> str:
    """System notes ("Sam ended the chat."): escaped, never linkified. They are made of names people
    typed, and a name must not turn into a link that seems to come from the helpdesk."""
    return escape_plain(text)


_RENDERERS = {MARKDOWN: render_markdown, PLAIN: render_plain}


class Rendered(NamedTuple):
    """A message's text and its HTML, made ahead of the write; or why the text cannot be formatted."""

    format: str
    text: str
    html: str = ""
    refusal: str = ""


def render(format: str, text: str) -> Rendered:
    try:
        return Rendered(format, text, _RENDERERS[format](text))
    except InvalidInput as exc:
        return Rendered(format, text, refusal=exc.message)


def html_of(rendered: Rendered | None, format: str, text: str) -> str:
    """The HTML to store for ``text``: the one made ahead if it is of this very text and format, else
    made now. Raises ``InvalidInput`` (with a message for the writer) when the text is past the limits."""
    if rendered is None or rendered.text != text or rendered.format != format:
        rendered = render(format, text)
    if rendered.refusal:
        raise InvalidInput(rendered.refusal)
    return rendered.html


# Renders run here, not on the event loop and not on the database thread every socket shares; two
# threads, since the GIL lets no more than about one run at a time anyway.
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="render")


def render_in_place(format: str, text: str) -> Rendered | None:
    """``render``, when it costs no more than a thread hop: plain text without anything link-like
    (escaped in microseconds), or short with a link or two (linkified in about 100 µs). None for
    everything else, which ``render_async`` runs on the rendering threads."""
    if format != PLAIN:
        return None
    if not may_have_link(text):
        return Rendered(PLAIN, text, escape_plain(text))
    return Rendered(PLAIN, text, linkify_plain(text, _tools.linker)) if quick_to_linkify(text) else None


async def render_async(format: str, text: str) -> Rendered:
    """``render`` from the event loop: in place when that is cheap, else on the rendering threads."""
    return render_in_place(format, text) or await asyncio.get_running_loop().run_in_executor(
        _pool, render, format, text)
