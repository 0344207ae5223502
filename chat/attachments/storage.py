"""Where files live: Django's default storage (a directory on the embedded default; S3 or another
backend through django-storages by setting ``STORAGES["default"]``), under keys the server makes.
A key says nothing of the file's name, chat or sender, and cannot be guessed."""

import logging
import secrets

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

log = logging.getLogger(__name__)

PREFIX = "attachments"


def new_key() -> str:
    return f"{PREFIX}/{secrets.token_hex(1)}/{secrets.token_hex(16)}"


def save_file(path: str) -> str:
    """Store the file at ``path``; returns the key it is stored under."""
    with open(path, "rb") as file:
        return default_storage.save(new_key(), File(file))


def save_bytes(data: bytes) -> str:
    return default_storage.save(new_key(), ContentFile(data))


def delete(*keys: str) -> None:
    """Remove stored files; a failure is logged, not raised (a file left behind costs space, not data)."""
    for key in keys:
        if not key:
            continue
        try:
            default_storage.delete(key)
        except Exception:
            log.warning("could not delete stored file %s", key, exc_info=True)


def open_file(key: str):
    return default_storage.open(key, "rb")


def forget_deleted(sender, instance, **kwargs) -> None:
    """An attachment row was deleted (by an admin, or with its chat): its bytes go once that commits."""
    from django.db import transaction

    keys = (instance.storage_key, instance.thumbnail_key)
    transaction.on_commit(lambda: delete(*keys), robust=True)
