"""Signed, expiring links to a transcript's attachments, made for the email's recipient.

A link is ``<HELPDESK_BASE_URL>/files/<attachment_ref>/?t=<token>``. The token is signed with the
SECRET_KEY (``django.core.signing``, a salt of its own) over the attachment's ref and the recipient's
address, with the time it was made: it opens that one file, for ``TRANSCRIPT_LINK_MAX_AGE_DAYS`` (30),
and names whom it was made for, so the view that serves files (issue #16) can say "sent to …" and a
link forwarded to someone else is still recognisably the recipient's. The token is signed, not
encrypted: anyone holding the link can read the address in it, as they can read the email.
"""

import time
from urllib.parse import quote

from django.conf import settings
from django.core import signing

SALT = "tickets.links.attachment"


class LinkInvalid(Exception):
    """The token was not made by this helpdesk, was changed, or is for another file."""


class LinkExpired(LinkInvalid):
    """The token was good but is older than its maximum age."""


class _SignerAt(signing.TimestampSigner):
    """A timestamp signer whose clock can be set (a link made at a given time, for tests)."""

    def __init__(self, *, at: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.at = at

    def timestamp(self):
        return super().timestamp() if self.at is None else signing.b62_encode(int(self.at))


def max_age_seconds() -> int:
    return settings.TRANSCRIPT_LINK_MAX_AGE_DAYS * 24 * 3600


def attachment_link_token(attachment_ref: str, recipient_email: str, *, at: float | None = None) -> str:
    """The token that opens ``attachment_ref`` for ``recipient_email`` (made now, or at ``at``, a Unix time)."""
    payload = {"a": attachment_ref, "to": recipient_email.strip().lower()}
    return _SignerAt(salt=SALT, at=at).sign_object(payload, compress=True)


def attachment_link_check(token: str, attachment_ref: str, *, now: float | None = None,
                          max_age: float | None = None) -> str:
    """The address the link was made for, when ``token`` is good for ``attachment_ref`` and younger
    than ``max_age`` seconds (default TRANSCRIPT_LINK_MAX_AGE_DAYS) at ``now`` (default: the clock).
    Raises LinkExpired or LinkInvalid."""
    signer = signing.TimestampSigner(salt=SALT)
    try:
        payload = signer.unsign_object(token or "")  # the signature, not the age
        stamped = signing.Signer.unsign(signer, token)  # "<value>:<timestamp>", signature checked again
        made = signing.b62_decode(stamped.rsplit(signer.sep, 1)[1])
    except (signing.BadSignature, ValueError, IndexError) as exc:
        raise LinkInvalid("This link is not valid.") from exc
    if not isinstance(payload, dict) or payload.get("a") != attachment_ref or not payload.get("to"):
        raise LinkInvalid("This link is for another file.")
    age = (time.time() if now is None else now) - made
    if age > (max_age_seconds() if max_age is None else max_age):
        raise LinkExpired("This link has expired: ask the helpdesk to send the transcript again.")
    return payload["to"]


def attachment_link_url(attachment_ref: str, recipient_email: str, *, at: float | None = None) -> str:
    """The full link to put in the email."""
    token = attachment_link_token(attachment_ref, recipient_email, at=at)
    return f"{settings.HELPDESK_BASE_URL}/files/{quote(attachment_ref, safe='')}/?t={quote(token, safe='')}"
