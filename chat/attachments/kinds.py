"""The kinds of file a chat takes, each known by its content, never by its name or claimed type.

``sniff`` reads the first bytes (and, for ZIP-based documents, the ZIP's directory) and says what a
file is. A file is taken when its kind is one the admin allows and its name's extension is one of
that kind's (a name without one gets the kind's own). Images are opened and re-encoded by
``images``; the other kinds are stored as sent and only ever served as downloads.
"""

import codecs
import re
import zipfile
from dataclasses import dataclass

TEXT_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class Kind:
    id: str
    label: str  # as a person names it: "a PNG image"
    content_type: str
    extensions: tuple[str, ...]  # the first is the one a name without an extension gets
    image: bool = False
    # A kind that is also another one (a Word document is a ZIP archive): a name of that kind fits too.
    also: str | None = None


KINDS = (
    Kind("png", "a PNG image", "image/png", (".png",), image=True),
    Kind("jpeg", "a JPEG image", "image/jpeg", (".jpg", ".jpeg", ".jpe", ".jfif"), image=True),
    Kind("gif", "a GIF image", "image/gif", (".gif",), image=True),
    Kind("webp", "a WebP image", "image/webp", (".webp",), image=True),
    Kind("pdf", "a PDF document", "application/pdf", (".pdf",)),
    Kind("text", "a text file", "text/plain; charset=utf-8", (".txt", ".log", ".md")),
    Kind("csv", "a CSV file", "text/csv; charset=utf-8", (".csv",)),
    Kind("docx", "a Word document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         (".docx",), also="zip"),
    Kind("xlsx", "an Excel workbook", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         (".xlsx",), also="zip"),
    Kind("pptx", "a PowerPoint presentation",
         "application/vnd.openxmlformats-officedocument.presentationml.presentation", (".pptx",), also="zip"),
    Kind("odt", "an OpenDocument text", "application/vnd.oasis.opendocument.text", (".odt",), also="zip"),
    Kind("ods", "an OpenDocument spreadsheet", "application/vnd.oasis.opendocument.spreadsheet", (".ods",),
         also="zip"),
    Kind("zip", "a ZIP archive", "application/zip", (".zip",)),
)
BY_ID = {kind.id: kind for kind in KINDS}
ALL_IDS = tuple(kind.id for kind in KINDS)

# What the first bytes of a file say it is. Text has no signature: it is what decodes as UTF-8.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"%PDF-", "pdf"),
)

_OPEN_DOCUMENT = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
}
_OFFICE_PARTS = (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx"))


@dataclass(frozen=True)
class Sniffed:
    """What the content is: one of ``KINDS`` (``kind``), or, when it is none of them, words for it."""

    kind: Kind | None
    described: str  # "a PNG image", "an SVG or HTML document", "a file of a kind we do not take"


def sniff(path: str) -> Sniffed:
    with open(path, "rb") as file:
        head = file.read(TEXT_SNIFF_BYTES)
    for magic, kind_id in _MAGIC:
        if head.startswith(magic):
            return Sniffed(BY_ID[kind_id], BY_ID[kind_id].label)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed(BY_ID["webp"], BY_ID["webp"].label)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _sniff_zip(path)
    return _sniff_text(head, path)


def _sniff_zip(path: str) -> Sniffed:
    """A ZIP archive, or an office document that is one. Only the directory is read, and
    OpenDocument's ``mimetype`` entry, which the format stores uncompressed: nothing is decompressed
    (a compressed entry's declared size is whatever its maker wrote)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            mimetype = archive.getinfo("mimetype") if "mimetype" in names else None
            if (mimetype is not None and mimetype.compress_type == zipfile.ZIP_STORED
                    and mimetype.compress_size == mimetype.file_size < 200):
                with archive.open(mimetype) as entry:
                    declared = entry.read(200).decode("ascii", "replace").strip()
                if declared in _OPEN_DOCUMENT:
                    kind = BY_ID[_OPEN_DOCUMENT[declared]]
                    return Sniffed(kind, kind.label)
            if "[Content_Types].xml" in names:
                for prefix, kind_id in _OFFICE_PARTS:
                    if any(name.startswith(prefix) for name in names):
                        return Sniffed(BY_ID[kind_id], BY_ID[kind_id].label)
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, RuntimeError, NotImplementedError):
        return Sniffed(None, "a damaged ZIP archive")
    return Sniffed(BY_ID["zip"], BY_ID["zip"].label)


def _looks_like_markup(text: str) -> bool:
    start = text.lstrip("\ufeff \t\r\n")[:200].lower()
    return start.startswith(("<!doctype", "<html", "<svg", "<?xml", "<script", "<head", "<body", "<iframe"))


_NOT_TEXT = Sniffed(None, "a file of a kind we do not take")
# Control characters text does not hold (tab, line feed, form feed and carriage return it does),
# DEL and the C1 controls included.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def _sniff_text(head: bytes, path: str) -> Sniffed:
    """Text is what decodes as UTF-8 from its first byte to its last, without control characters;
    markup (HTML, SVG, XML) is not taken whatever its name."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        first = decoder.decode(head)
    except UnicodeDecodeError:
        return _NOT_TEXT
    if _looks_like_markup(first):
        return Sniffed(None, "an HTML, SVG or XML document")
    if _CONTROLS.search(first):
        return _NOT_TEXT
    with open(path, "rb") as file:
        file.seek(len(head))
        try:
            while chunk := file.read(TEXT_SNIFF_BYTES):
                if _CONTROLS.search(decoder.decode(chunk)):
                    return _NOT_TEXT
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return _NOT_TEXT
    return Sniffed(BY_ID["text"], BY_ID["text"].label)


def fits_name(kind: Kind, extension: str) -> bool:
    """May a file of this kind carry this extension? Text also fits a CSV's name (CSV is text)."""
    if extension in kind.extensions:
        return True
    if kind.also and extension in BY_ID[kind.also].extensions:
        return True
    return kind.id == "text" and extension in BY_ID["csv"].extensions


def named_kind(kind: Kind, extension: str) -> Kind:
    """The kind the file is served as: text named .csv is served as CSV."""
    if kind.id == "text" and extension in BY_ID["csv"].extensions:
        return BY_ID["csv"]
    return kind


def kind_of_extension(extension: str) -> Kind | None:
    for kind in KINDS:
        if extension in kind.extensions:
            return kind
    return None


def describe_allowed(ids) -> str:
    """"PNG, JPEG, … and ZIP": the kinds the admin allows, for a refusal."""
    names = [BY_ID[i].label.split(" ", 1)[1] for i in ALL_IDS if i in ids]
    if not names:
        return "no files"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
