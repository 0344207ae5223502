"""A file's name as people see it, made safe to show and to put in a header. It is never a path:
files are stored under keys the server makes (``storage``), so two names that differ only in case or
Unicode form are two files, each under its own key."""

import os
import unicodedata

MAX_NAME_CHARS = 200
FALLBACK = "file"
# Letters and marks that show as nothing (Unicode calls them letters, so the categories keep them).
INVISIBLE = set("\u034f\u115f\u1160\u17b4\u17b5\u180e\u3164\uffa0")


def clean_name(raw: str) -> str:
    """The last part of any path, in NFC, without control, format (bidi overrides, zero-width),
    invisible (Hangul fillers) or unassigned characters, without leading dots or spaces, at most
    MAX_NAME_CHARS (the extension kept); "file" when nothing is left."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(" " if c in "\t\r\n\u2028\u2029" else c for c in name)
    name = "".join(c for c in name if c not in INVISIBLE
                   and unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
    name = " ".join(name.split()).lstrip(". ").rstrip(". ")
    if len(name) > MAX_NAME_CHARS:
        stem, extension = os.path.splitext(name)
        if len(extension) > 16:
            stem, extension = name, ""
        name = stem[: MAX_NAME_CHARS - len(extension)].rstrip(". ") + extension
    return name or FALLBACK


def extension_of(name: str) -> str:
    """".png" for "Photo.PNG"; "" for a name without one."""
    stem, extension = os.path.splitext(name)
    return extension.lower() if stem else ""


def with_extension(name: str, extension: str) -> str:
    if extension_of(name):
        return name
    return (name if name != FALLBACK else FALLBACK) + extension
