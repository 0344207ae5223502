"""Python-Markdown, metered: the scans it makes for the ends of links and code spans, and the blocks it
cuts headings, rules and list items from, are counted as it runs, and it is stopped (``TooComplex``)
past ``MAX_READING`` or ``MAX_BLOCK_READING``. The checks before Markdown runs (``limits``) keep
ordinary and most hostile texts far below; this is for what they cannot see coming, such as brackets
whose closing ] stands in a `code span`. The HTML is the same as unmetered Markdown's.
"""

import re
from functools import partial

import markdown

from .limits import MAX_BLOCK_READING, MAX_READING, TOO_MANY_BRACKETS, TOO_MANY_ELEMENTS

EXTENSIONS = ["nl2br", "sane_lists", "fenced_code"]
_LINK_PATTERNS = ("reference", "link", "image_link", "image_reference", "short_reference", "short_image_ref")
_TICKS = re.compile("`*")


class TooComplex(Exception):
    """Markdown read past a limit; the message says why, for the writer."""


def new_markdown() -> markdown.Markdown:
    """A Markdown converter with its meter. Not thread-safe: one per thread; ``start`` before each text."""
    md = markdown.Markdown(extensions=EXTENSIONS, output_format="html")
    for name in _LINK_PATTERNS:
        pattern = md.inlinePatterns[name]
        pattern.getText = partial(_get_text, md, pattern.getText)
        pattern.getLink = partial(_get_link, md, pattern.getLink)
    backtick = md.inlinePatterns["backtick"]
    backtick.find_code_spans = partial(_code_spans, md, backtick.find_code_spans)
    for processor in md.parser.blockprocessors:
        processor.run = partial(_block, md, processor.run)
    start(md)
    return md


def start(md: markdown.Markdown) -> markdown.Markdown:
    md.reading = md.block_reading = 0
    return md.reset()


def _charge(md, read: int) -> None:
    md.reading += read
    if md.reading > MAX_READING:
        raise TooComplex(TOO_MANY_BRACKETS)


def _get_text(md, get_text, data, index):
    """From a [ to its ] (or to the end of the text)."""
    result = get_text(data, index)
    _charge(md, result[1] - index)
    return result


def _get_link(md, get_link, data, index):
    """From a ]( to its ) (or to the end of the text)."""
    result = get_link(data, index)
    _charge(md, result[2] - index)
    return result


def _code_spans(md, find_code_spans, start, text):
    """From a run of backticks to the next run of as many (or to the end of the text)."""
    found, end = find_code_spans(start, text)
    ticks = _TICKS.match(text, start).end() - start
    exact = end is not None and found == start + ticks
    _charge(md, (end + ticks if exact else len(text)) - start)
    return found, end


def _block(md, run, parent, blocks):
    """A block processor cuts its element from the front of ``blocks[0]`` and puts the rest back, to be
    read again: a heading or rule on each of many lines makes that quadratic."""
    md.block_reading += len(blocks[0])
    if md.block_reading > MAX_BLOCK_READING:
        raise TooComplex(TOO_MANY_ELEMENTS)
    return run(parent, blocks)
