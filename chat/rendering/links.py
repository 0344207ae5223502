"""Making links: bleach's linkify, with a URL pattern that takes linear time, and for long visitor texts
only the words that may hold a link go through it.

bleach's own URL pattern took seconds on ``"(" * 5000`` and on ``"x.ab-" * 1000``: from every "(" of a
run it read the whole run again, and from every word boundary of a run of letters, dots and hyphens it
read every label after it and tried 250 top-level domains at each. ``URL_RE`` finds the same links in
real text (a test compares the two on random text made of what addresses are made of).
"""

import html
import re

from bleach import html5lib_shim
from bleach.linkifier import TLDS

# Past these, a visitor's text is shown escaped, without links (it is never refused for its looks):
MAX_LINK_DOTS = 300  # dots in the words that may hold a link, each a possible link (~40 µs to make)
MAX_LINK_ENTITIES = 500  # & < > in those words, each a slow step of html5lib
_SHORT = 500  # a text this short is linkified whole, in one call: fewer steps, and bounded anyway
# A text linkify makes links of in about 100 µs, less than handing it to a thread and back costs.
_QUICK_CHARS, _QUICK_DOTS, _QUICK_ENTITIES = 300, 8, 16


def link_attrs(attrs, new=False):
    """Every link opens in a new tab and tells the target nothing about the chat."""
    attrs[(None, "rel")] = "noopener noreferrer nofollow"
    attrs[(None, "target")] = "_blank"
    return attrs


def _alternation(words) -> str:
    """A regex alternation of ``words`` that tries them in the order of ``sorted(words)``, as bleach's
    does, but a letter at a time: a trie, so that a failed try costs a few steps, not hundreds."""

    def build(words: list[str]) -> str:
        branches = [""] if "" in words else []
        for first in dict.fromkeys(word[0] for word in words if word):
            rest = [word[1:] for word in words if word and word[0] == first]
            branches.append(re.escape(first) + (build(rest) if rest != [""] else ""))
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return build(sorted(words))


def _url_re() -> re.Pattern:
    """bleach's URL pattern, except: a match starts only at the first "(" of a run (a match from a later
    one is found from the first anyway); a host has at most 10 labels of at most 63 characters (DNS
    allows 63); and a label is tried as a top-level domain only where 2 to 6 letters stand, then
    letter by letter."""
    protocols, tlds = _alternation(html5lib_shim.allowed_protocols), _alternation(TLDS)
    tld_letters = f"[a-z]{{{min(map(len, TLDS))},{max(map(len, TLDS))}}}"
    return re.compile(
        rf"""(?<!\()\(*  # opening parentheses, from the first of a run
        \b(?<![@.])(?:{protocols}:/{{0,3}}(?:(?:\w+:)?\w+@)?)?  # http://
        (?:[\w-]{{1,63}}\.){{1,10}}(?={tld_letters}(?!\w)){tlds}  # xx.yy.tld
        (?:\:[0-9]+)?(?!\.\w)\b  # (:##)?
        (?:[/?][^\s\{{\}}\|\\\^`<>"]*)?  # /path/zz
        """,
        re.IGNORECASE | re.VERBOSE | re.UNICODE,
    )


URL_RE = _url_re()
_DOT_LETTERS = re.compile(r"\.[A-Za-z]{2}")
_NAME_CHAR = re.compile(r"[\w-]")
# The same for HTML that html5lib has read already, with the case folding of URL_RE; or a link.
HTML_MAY_HAVE_LINK = re.compile(r"<a|[\w-]\.[a-z]{2}", re.IGNORECASE)
# A link never holds whitespace, and always a dot between a name and two letters (of a top-level
# domain, in URL_RE's case folding).
_WORDS = re.compile(r"[^ \t\n]+")
_HOST_LIKE = re.compile(r"[\w-]\.[a-z]{2}", re.IGNORECASE)


def may_have_link(text: str) -> bool:
    r"""Anything linkify could turn into a link has a scheme, "www." or a dot between a name and a
    top-level domain (the pattern ``://|www\.|[\w-]\.[A-Za-z]{2,}``, searched for the dot first, which
    takes a fifth of the time). Most chat lines have none, and linkify parses the text as HTML."""
    if "://" in text:
        return True
    if "." not in text:  # (the other two need one)
        return False
    if "www." in text:
        return True
    for match in _DOT_LETTERS.finditer(text):
        if match.start() and _NAME_CHAR.match(text, match.start() - 1):
            return True
    return False


def quick_to_linkify(text: str) -> bool:
    return (len(text) <= _QUICK_CHARS and text.count(".") <= _QUICK_DOTS
            and text.count("&") + text.count("<") + text.count(">") <= _QUICK_ENTITIES)


def escape_plain(text: str) -> str:
    return html.escape(text, quote=False).replace("\n", "<br>")


def linkify_plain(text: str, linker) -> str:
    """Escaped text with its bare URLs made into links by ``linker``. A long text has only its words
    that may hold a link linkified, all in one html5lib pass, the rest escaped: the same HTML as
    linkifying it whole, without parsing what cannot be a link."""
    if len(text) <= _SHORT or "\r" in text or "\ufeff" in text:  # (html5lib changes these two)
        return linker.linkify(escape_plain(text))
    words = [m for m in _WORDS.finditer(text) if _HOST_LIKE.search(m.group())]
    dots = sum(m.group().count(".") for m in words)
    entities = sum(m.group().count("&") + m.group().count("<") + m.group().count(">") for m in words)
    if not words or dots > MAX_LINK_DOTS or entities > MAX_LINK_ENTITIES:
        return escape_plain(text)
    linked = linker.linkify("\n".join(html.escape(m.group(), quote=False) for m in words)).split("\n")
    parts, last = [], 0
    for match, html_word in zip(words, linked, strict=True):
        parts.append(html.escape(text[last:match.start()], quote=False))
        parts.append(html_word)
        last = match.end()
    parts.append(html.escape(text[last:], quote=False))
    return "".join(parts).replace("\n", "<br>")
