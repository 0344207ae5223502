"""Pages: the widget's iframe, the agent console and the demo website. No business rules here."""

import re

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt

from blocking import selectors as block_selectors
from blocking.services import MAX_REASON_CHARS
from helpdesk.security import allow_framing, frame_ancestors
from tickets.services import MAX_RATING_COMMENT_CHARS

from . import selectors
from .attachments import kinds
from .permissions import agent_required
from .services import MAX_MESSAGE_CHARS

ORIGIN_RE = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


def _upload_context() -> dict:
    """What the pages' scripts pre-check a file against, for a quicker message (the server checks
    again): the admin's largest file, and what the file picker offers."""
    config = selectors.upload_settings()
    extensions = [e for kind in kinds.KINDS if kind.id in config.types for e in kind.extensions]
    return {"upload_max_bytes": config.max_bytes, "upload_accept": ",".join(extensions),
            "upload_kinds": kinds.describe_allowed(config.types)}


def _resync_ms() -> int:
    """How often the pages' scripts resync a chat by seq (docs/protocol.md); 0: never."""
    return max(0, settings.CHAT_RESYNC_SECONDS) * 1000


@xframe_options_exempt
def widget_frame(request):
    """The page inside the widget's iframe. ``host`` is the embedding page's origin, the only target
    the widget posts messages to and the only sender it listens to."""
    host = request.GET.get("host", "")
    if not ORIGIN_RE.match(host):
        host = ""
    context = {"host_origin": host, "max_chars": MAX_MESSAGE_CHARS, "resync_ms": _resync_ms(),
               "max_comment_chars": MAX_RATING_COMMENT_CHARS, **_upload_context()}
    # The page's policy is every page's (helpdesk/security.py), but the embedding sites may frame it.
    return allow_framing(render(request, "chat/widget.html", context), frame_ancestors(settings.CHAT_EMBED_ORIGINS))


@agent_required
def console(request):
    blocks = block_selectors.block_settings()
    return render(request, "chat/console.html", {"max_chars": MAX_MESSAGE_CHARS, "resync_ms": _resync_ms(),
                                                 "block_hours": blocks.duration_hours,
                                                 "block_reason_max": MAX_REASON_CHARS,
                                                 "block_ipv6_prefix": blocks.ipv6_prefix, **_upload_context()})


DEMO_PAGES = {
    "": ("Home", "demo/home.html"),
    "pricing": ("Pricing", "demo/pricing.html"),
    "contact": ("Contact", "demo/contact.html"),
}


def demo(request, page=""):
    if not settings.DEMO_SITE or page not in DEMO_PAGES:
        raise Http404("No demo here.")
    title, template = DEMO_PAGES[page]
    return render(request, template, {"title": title, "pages": DEMO_PAGES})
