"""The limits of an agent's Markdown, and the checks made in one pass before Markdown runs.

Python-Markdown reads from every ``[`` to its ``]`` (to the end of the paragraph when none closes it),
recurses on nested lists and quotes, and builds an element for every mark; bleach's html5lib then pays
about 25 µs a tag or entity, twice. Within these limits the worst text we could find renders in a few
tens of milliseconds; ordinary messages never come near them (docs/protocol.md, Limits).
"""

import re

# Checked before Markdown runs (``markdown_refusal``):
MAX_MARKS = 1_000  # formatting characters: * _ ` ~ [ < > & \ and line breaks
MAX_LINKS = 200  # [ brackets and things that look like web addresses (a link costs ~100 µs to make)
MAX_NESTING = 16  # levels of lists and quotes (and of 4-column indents) at the start of a line
MAX_LINK_READING = 30_000  # characters Markdown would read looking for the ends of [links](…)
# Metered while Markdown runs (``meter``), for what the checks above cannot see coming:
MAX_READING = 150_000  # characters read looking for the ends of links and `code` spans
MAX_BLOCK_READING = 250_000  # characters of the blocks that headings, rules and lists are cut from
# Checked before bleach runs:
MAX_ELEMENTS = 500  # tags and entities in the HTML Markdown made

TOO_MUCH_FORMATTING = ("This message has too much formatting to show: {count:,} of the characters "
                       "* _ ` ~ [ < > & \\ and line breaks, at most {limit:,}. Split it into shorter messages.")
TOO_MANY_LINKS = ("This message has too many links to format: {count:,} [ brackets and web addresses, at most "
                  "{limit:,}. Split it into shorter messages.")
TOO_DEEP = (f"This message has too many nested lists or quotes to format: more than {MAX_NESTING} levels. "
            "Use fewer levels.")
TOO_MANY_BRACKETS = ("This message has too many nested lists/brackets to format: [ brackets that are not "
                     "closed, or that enclose long text. Close each [ with ], write \\[ for a bracket that "
                     "is not a link, or split the message.")
TOO_MANY_ELEMENTS = ("This message has too much formatting to show (headings, rules, list items, emphasis, "
                     "links). Split it into shorter messages.")

_MARK_CHARS = "*_`~[<>&\\\n"
_ADDRESS = re.compile(r"[\w-]\.[a-z]{2}", re.IGNORECASE)  # what every address linkify makes a link of has
_CONTAINER = re.compile(r"^(?=[ \t>*+\-\d])[ \t]*(?:(?:>|[*+-](?=[ \t])|\d{1,9}[.)](?=[ \t]))[ \t]*)*", re.MULTILINE)
_CONTAINER_MARK = re.compile(r">|[*+-](?=[ \t])|\d{1,9}[.)]")
# Markdown's escapes, blank lines (a paragraph ends), brackets, parentheses and quotes.
_LINK_TOKENS = re.compile(r"""\\[\\`*_{}\[\]()>#+\-.!]|\n[ \t]*(?=\n)|\]\(|[\[\]()"']""")


def markdown_refusal(text: str) -> str:
    """Why this text is not formatted, in words its writer can act on; "" when it may be. A few passes
    over the text at C speed and one over its brackets, so that a refusal costs next to nothing."""
    marks = sum(map(text.count, _MARK_CHARS))
    if marks > MAX_MARKS:
        return TOO_MUCH_FORMATTING.format(count=marks, limit=MAX_MARKS)
    links = text.count("[") + len(_ADDRESS.findall(text))
    if links > MAX_LINKS:
        return TOO_MANY_LINKS.format(count=links, limit=MAX_LINKS)
    if nesting(text) > MAX_NESTING:
        return TOO_DEEP
    if "[" in text and link_reading(text) > MAX_LINK_READING:
        return TOO_MANY_BRACKETS
    return ""


def nesting(text: str) -> int:
    """The deepest container prefix of any line: each quote or list marker, and each 4 columns the line
    is indented by, count one level (Markdown nests a block in each)."""
    deepest = 0
    for match in _CONTAINER.finditer(text.expandtabs(4) if "\t" in text else text):
        prefix = match.group()
        indent = len(prefix) - len(prefix.lstrip(" "))
        deepest = max(deepest, len(_CONTAINER_MARK.findall(prefix)) + indent // 4)
    return deepest


def link_reading(text: str) -> int:
    """What Markdown reads looking for where links end: from each [ to its ] (or to the end of the
    paragraph when none closes it), and from each ]( to its ) (to the end of the paragraph when there
    is none, or when a quote may start a title). Escaped brackets do not count. Brackets hidden in
    `code` spans do count here; what that misses, the meter catches."""
    total = 0
    opens: list[int] = []  # [ not closed yet in this paragraph
    parens: list[tuple[int, int, bool]] = []  # ( not closed yet: where, quotes seen before it, link target?
    to_end: list[int] = []  # link targets Markdown reads to the paragraph's end
    quotes = 0

    def paragraph_end(at: int) -> int:
        read = sum(at - p for p in opens) + sum(at - p for p, _, link in parens if link) + sum(at - p for p in to_end)
        opens.clear(), parens.clear(), to_end.clear()
        return read

    for match in _LINK_TOKENS.finditer(text):
        token, at = match.group(), match.start()
        first = token[0]
        if first == "\\":
            continue
        if first == "\n":
            total += paragraph_end(at)
        elif token == "[":
            opens.append(at)
        elif first == "]":
            if opens:
                total += at - opens.pop()
            if token == "](":
                parens.append((at + 1, quotes, True))
        elif token == "(":
            parens.append((at, quotes, False))
        elif token == ")":
            if parens:
                where, quotes_before, link = parens.pop()
                if link:
                    if quotes > quotes_before:
                        to_end.append(where)
                    else:
                        total += at - where
        else:
            quotes += 1
    return total + paragraph_end(len(text))
