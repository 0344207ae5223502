"""Security headers Django 5.2 does not send by itself.

* A Content-Security-Policy on every response of the app (console, login, admin, the widget's iframe
  page, the demo website, error pages): scripts, styles, fonts and frames from this origin only, no
  inline script or style, no plugins, no ``<base>``, forms posting only here, and no framing — except
  the widget's page, which the sites of ``CHAT_EMBED_ORIGINS`` may frame (``frame_ancestors`` below).
  The pages' scripts open websockets to this host: ``connect-src`` names ``ws:``/``wss:`` of the host
  the request was made to (already checked against ``ALLOWED_HOSTS``), since browsers before CSP 3 did
  not let ``'self'`` cover them.
* The same headers SecurityMiddleware gives a page (``nosniff``, Referrer-Policy, HSTS over https),
  and a CSP that allows nothing active, on the static files daphne serves itself (``SERVE_STATIC=1``):
  Django's static handler bypasses every middleware.

Django admin runs under the same policy: since Django 4.1 its templates have no inline script (their
data rides in ``data-`` attributes of ``<script src>`` elements) and no ``style=`` attribute; its one
inline ``<style>`` (a change list with actions switched off both at the top and the bottom) is not used
here. tests/browser/test_csp.py loads the admin in Chromium and fails on any violation.

With ``DEBUG`` on, Django's own error pages (technical 404 and 500) are made of inline script and
style; for those, and only in development, the policy allows inline code.
"""

import re

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import DisallowedHost
from django.middleware.security import SecurityMiddleware

CSP = "Content-Security-Policy"

PAGE_POLICY = {
    "default-src": "'self'",
    # blob: the widget shows a chat's images from blob: URLs of files it fetched with the visitor's
    # token (an <img> cannot send the header, and the token never goes in a URL).
    "img-src": "'self' data: blob:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

# Static files are scripts, styles and images for our pages; opened on their own they may do nothing.
STATIC_POLICY = "default-src 'none'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; " \
                "base-uri 'none'; form-action 'none'"

# Django's technical error pages with DEBUG on.
DEBUG_ERROR_EXTRA = {"script-src": "'self' 'unsafe-inline'", "style-src": "'self' 'unsafe-inline'"}

# A CSP host-source: no IPv6 literal (CSP cannot name one; 'self' covers it) and nothing that could end
# the directive. get_host() only returns hosts of this form anyway.
HOST_SOURCE_RE = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$")
# An embedding origin as CSP takes it (``https://shop.example``, ``https://*.example.com:8443``).
ORIGIN_SOURCE_RE = re.compile(r"^https?://(\*\.)?[A-Za-z0-9.\-]+(:[0-9]{1,5})?$")


def frame_ancestors(origins) -> str:
    """``frame-ancestors`` for a page that the sites in ``origins`` may embed (``*``: any site).
    Anything that is not an origin is left out rather than let into the header."""
    if "*" in origins:
        return "*"
    return " ".join(["'self'", *(o.rstrip("/") for o in origins if ORIGIN_SOURCE_RE.match(o.rstrip("/")))])


def allow_framing(response, ancestors: str):
    """Let ``ancestors`` (a ``frame-ancestors`` value) frame this response instead of nobody."""
    response.csp_directives = {**getattr(response, "csp_directives", {}), "frame-ancestors": ancestors}
    return response


def _websocket_sources(request) -> str:
    try:
        host = request.get_host()
    except DisallowedHost:
        return ""
    if not HOST_SOURCE_RE.match(host):
        return ""
    return f" ws://{host} wss://{host}"


def page_policy(request, response) -> str:
    directives = dict(PAGE_POLICY)
    directives["connect-src"] += _websocket_sources(request)
    if settings.DEBUG and response.status_code >= 400:
        directives.update(DEBUG_ERROR_EXTRA)
    directives.update(getattr(response, "csp_directives", {}))
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    """Sets the policy on every response that has none (sync and async, without a thread hop)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        return self.process_response(request, self.get_response(request))

    async def __acall__(self, request):
        return self.process_response(request, await self.get_response(request))

    def process_response(self, request, response):
        if CSP not in response:
            response[CSP] = page_policy(request, response)
        return response


class StaticFilesHandler(ASGIStaticFilesHandler):
    """Django's ASGI static handler, with the headers its responses would otherwise lack."""

    def __init__(self, application):
        super().__init__(application)
        self.security = SecurityMiddleware(lambda request: None)

    async def get_response_async(self, request):
        response = await super().get_response_async(request)
        # nosniff, Referrer-Policy and, over https, Strict-Transport-Security, as on every page.
        self.security.process_response(request, response)
        response.setdefault(CSP, STATIC_POLICY)
        return response
