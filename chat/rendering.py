"""The one place where message HTML is made: called once when a message is saved.

Clients insert only this stored HTML and never build markup from user text.
"""

import html
import re

import bleach
import markdown
from bleach.linkifier import Linker

ALLOWED_TAGS = [
    "p", "br", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li", "a", "hr",
    "h3", "h4", "h5", "h6", "del",
]
ALLOWED_ATTRIBUTES = {"a": ["href", "title", "rel", "target"]}
ALLOWED_PROTOCOLS = ["http", "https", "mailto"]


def _link_attrs(attrs, new=False):
    """Every link opens in a new tab and tells the target nothing about the chat."""
    attrs[(None, "rel")] = "noopener noreferrer nofollow"
    attrs[(None, "target")] = "_blank"
    return attrs


_linker = Linker(callbacks=[_link_attrs], parse_email=False)


# Anything linkify could turn into a link has a scheme, "www." or a dot between a name and a
# top-level domain. Most chat lines have none, and linkify parses the whole text as HTML: skip it.
_MAY_HAVE_LINK = re.compile(r"://|www\.|[\w-]\.[A-Za-z]{2,}")


def render_plain(text: str) -> str:
    """Visitor text: escaped, line breaks kept, bare URLs made into links."""
    escaped = html.escape(text, quote=False).replace("\n", "<br>")
    return _linker.linkify(escaped) if _MAY_HAVE_LINK.search(text) else escaped


def render_markdown(text: str) -> str:
    """Agent replies: Markdown, sanitised to an allow-list of tags, attributes and URL schemes."""
    raw = markdown.markdown(text, extensions=["nl2br", "sane_lists", "fenced_code"], output_format="html")
    clean = bleach.clean(
        raw, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, protocols=ALLOWED_PROTOCOLS, strip=True
    )
    return _linker.linkify(clean)
