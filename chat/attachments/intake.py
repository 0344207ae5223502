"""From an upload's bytes to what is stored: read with a size limit, typed by content, named
safely, and, for images, re-encoded. Runs off the database thread (``views``): re-encoding a large
photo takes a while. Nothing here writes to storage or the database."""

import hashlib
import os
import tempfile
from dataclasses import dataclass

from django.conf import settings

from chat.attachments import images, kinds, names
from chat.errors import InvalidInput, TooLarge, Unavailable, Unsupported

CHUNK_BYTES = 256 * 1024
BUSY_RETRY_SECONDS = 5


@dataclass
class Prepared:
    """A file ready to store: ``path`` holds its bytes (a temporary file, removed by ``discard``)."""

    name: str
    kind: kinds.Kind
    path: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None
    thumbnail_size: tuple[int, int] | None = None

    def discard(self) -> None:
        _remove(self.path)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{size // 1024} KB"


def receive(stream, max_bytes: int) -> tuple[str, int]:
    """Copy ``stream`` into a temporary file, ``CHUNK_BYTES`` at a time; past ``max_bytes`` stop and
    refuse (TooLarge), the file removed. Returns its path and size."""
    handle, path = tempfile.mkstemp(prefix="upload-", dir=settings.FILE_UPLOAD_TEMP_DIR)
    size = 0
    try:
        with os.fdopen(handle, "wb") as file:
            while chunk := stream.read(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(too_large_message(max_bytes))
                file.write(chunk)
    except BaseException:
        _remove(path)
        raise
    return path, size


def too_large_message(max_bytes: int) -> str:
    return f"This file is larger than {megabytes(max_bytes)}, the most that can be sent here."


def prepare(path: str, size: int, raw_name: str, allowed: set[str]) -> Prepared:
    """Check and type the received file at ``path`` (taken over: removed on refusal). ``allowed``: the
    kinds the admin allows (``kinds.ALL_IDS``)."""
    try:
        return _prepare(path, size, raw_name, allowed)
    except BaseException:
        _remove(path)
        raise


def _prepare(path, size, raw_name, allowed) -> Prepared:
    if size == 0:
        raise InvalidInput("This file is empty.")
    name = names.clean_name(raw_name)
    extension = names.extension_of(name)
    taken = kinds.describe_allowed(allowed)
    if extension and kinds.kind_of_extension(extension) is None:
        raise Unsupported(f"Files ending in {extension} cannot be sent here. You can send {taken}.")
    sniffed = kinds.sniff(path)
    kind = sniffed.kind
    if kind is None:
        raise Unsupported(f"This file is {sniffed.described}, which cannot be sent here. You can send {taken}.")
    if extension and not kinds.fits_name(kind, extension):
        raise InvalidInput(f"This file's name ends in {extension}, but the file is {sniffed.described}. "
                           "Rename it to match, or send another file.")
    kind = kinds.named_kind(kind, extension)
    if kind.id not in allowed:
        raise Unsupported(f"{kind.label[0].upper()}{kind.label[1:]} cannot be sent here. You can send {taken}.")
    name = names.with_extension(name, kind.extensions[0])
    if not kind.image:
        return Prepared(name, kind, path, size, _sha256(path))
    try:
        image = images.reencode(path, kind)
    except images.ImageRefused as refused:
        raise InvalidInput(refused.message) from None
    except images.Busy:
        raise Unavailable("Many images are being prepared right now. Send this one again in a moment.",
                          retry_after=BUSY_RETRY_SECONDS) from None
    _remove(path)
    handle, stored = tempfile.mkstemp(prefix="image-", dir=settings.FILE_UPLOAD_TEMP_DIR)
    with os.fdopen(handle, "wb") as file:
        file.write(image.data)
    return Prepared(name, kind, stored, len(image.data), hashlib.sha256(image.data).hexdigest(),
                    image.width, image.height, image.thumbnail, image.thumbnail_size)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
