"""Production is safe by default (issue 14, item 6): DEBUG only on the embedded default, a CSP on every
page, HSTS and Secure cookies by setting, nosniff on static files, weak keys refused, ``check --deploy``
clean with the README's production environment, demo logins only on the embedded default, and a
warning at start when production has no SMTP.

Settings are read once, from the environment, so every rule about them is tested in a process of its
own with exactly that environment; pages are tested with Django's client and, for what only daphne
does (static files, the https headers behind a proxy), against daphne itself."""

import http.client
import json
import os
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import AgentFactory, UserFactory, start_chat

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "k-" + secrets.token_urlsafe(48)
PG = "postgres://helpdesk:pw@db.internal:5432/helpdesk"
REDIS = "redis://redis.internal:6379/0"

# The production environment the README documents ("Run in production"), with made-up hosts: nothing
# here connects to them.
PRODUCTION = {
    "SECRET_KEY": STRONG_KEY,
    "DATABASE_URL": PG,
    "REDIS_URL": REDIS,
    "ALLOWED_HOSTS": "help.example.com",
    "HTTPS": "1",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
    "TRUSTED_PROXIES": "10.0.0.2",
    "CHAT_EMBED_ORIGINS": "https://www.example.com",
    "HELPDESK_BASE_URL": "https://help.example.com",
    "EMAIL_HOST": "smtp.example.com",
}

# Every variable the settings read that could change a case's outcome: each case starts without them.
SETTINGS_ENV = {
    "DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS", "HTTPS", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER", "SECURE_SSL_REDIRECT", "EMAIL_HOST", "CHAT_EMBED_ORIGINS", "TRUSTED_PROXIES",
    "DEMO_SITE", "CHANNEL_PREFIX", "HELPDESK_BASE_URL",
}


def csp(response_or_policy) -> dict[str, str]:
    """The policy of a response (or a policy string) as {directive: its sources}."""
    policy = response_or_policy
    if not isinstance(policy, str):
        policy = policy["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            assert name not in directives, f"{name} twice in {policy!r}"
            directives[name] = value.strip()
    return directives


def run(args: list[str], env: dict, *, timeout: int = 60) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True,
                          timeout=timeout)


PROBED = ["DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
          "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER"]
START = f"""
import json, sys
import helpdesk.asgi  # as daphne starts: it logs what production should hear
from django.conf import settings
from django.core.management import call_command
print(json.dumps({{name: getattr(settings, name) for name in {PROBED!r}}}), flush=True)
print("--- manage.py check ---", file=sys.stderr, flush=True)
call_command("check")
"""


class Started:
    """A process started with an environment: its settings, what it logged as daphne would start,
    and what ``manage.py check`` says in it."""

    def __init__(self, env: dict):
        result = run(["-c", START], {"DJANGO_SETTINGS_MODULE": "helpdesk.settings", **env})
        assert result.returncode == 0, result.stderr
        self.settings = json.loads(result.stdout.splitlines()[0])
        self.start_log, _, self.check = result.stderr.partition("--- manage.py check ---")

    def says(self, check_id: str, text: str) -> bool:
        in_log = f"({check_id})" in self.start_log and text in self.start_log
        in_check = f"?: ({check_id})" in self.check and text in self.check
        assert in_log == in_check, f"start log and check disagree:\n{self.start_log}\n{self.check}"
        return in_log


# --- DEBUG ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("env", "debug", "warned"), [
    pytest.param({}, True, None, id="embedded-default"),
    pytest.param({"DATABASE_URL": PG}, False, None, id="database"),
    pytest.param({"REDIS_URL": REDIS}, False, None, id="redis"),
    pytest.param({"DATABASE_URL": PG, "REDIS_URL": REDIS}, False, None, id="both"),
    pytest.param({"DEBUG": "0"}, False, None, id="embedded-with-debug-off"),
    # A developer's explicit DEBUG=1 on the real services works, and is said at start.
    pytest.param({"DATABASE_URL": PG, "DEBUG": "1"}, True, "DATABASE_URL is set", id="database-debug"),
    pytest.param({"REDIS_URL": REDIS, "DEBUG": "1"}, True, "REDIS_URL is set", id="redis-debug"),
    pytest.param({"DATABASE_URL": PG, "REDIS_URL": REDIS, "DEBUG": "1"}, True, "DATABASE_URL and REDIS_URL are set",
                 id="both-debug"),
])
def test_debug_is_on_only_on_the_embedded_default(env, debug, warned):
    started = Started({"SECRET_KEY": STRONG_KEY, "EMAIL_HOST": "smtp.example.com", **env})
    assert started.settings["DEBUG"] is debug
    assert started.says("helpdesk.W001", f"DEBUG is on although {warned}" if warned else "") is bool(warned)
    if warned:
        assert started.says("helpdesk.W001", "development only")


# --- SECRET_KEY -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "why"), [
    pytest.param("x", "shorter than 50 characters (length 1)", id="x"),
    pytest.param(secrets.token_urlsafe(36), "shorter than 50 characters (length 48)", id="48-characters"),
    pytest.param("x" * 64, "fewer than 5 distinct characters (1)", id="one-character"),
    pytest.param("abcd" * 16, "fewer than 5 distinct characters (4)", id="four-characters"),
    pytest.param("django-insecure-" + secrets.token_urlsafe(48), "'django-insecure-'", id="startproject-key"),
])
def test_weak_secret_key_is_refused_in_production(key, why):
    result = run(["manage.py", "check"], {"DEBUG": "0", "SECRET_KEY": key})
    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr and why in result.stderr, result.stderr[-2000:]
    assert "refuses to start" in result.stderr and "secrets.token_urlsafe(50)" in result.stderr
    if len(key) > 8:
        assert key not in result.stderr, "the message must not repeat the key"


@pytest.mark.parametrize("env", [
    pytest.param({"DEBUG": "0", "SECRET_KEY": STRONG_KEY}, id="strong-key"),
    pytest.param({"DEBUG": "1", "SECRET_KEY": "x"}, id="weak-key-while-developing"),
    pytest.param({"DATABASE_URL": PG, "DEBUG": "1", "SECRET_KEY": "x"}, id="weak-key-developing-on-a-database"),
])
def test_a_strong_key_or_development_starts(env):
    result = run(["manage.py", "check"], env)
    assert result.returncode == 0, result.stderr


def test_secret_key_missing_on_a_real_database_is_refused():
    """DEBUG is off by default there, so the key is needed without anyone saying DEBUG=0."""
    result = run(["manage.py", "check"], {"DATABASE_URL": PG})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


# --- check --deploy -----------------------------------------------------------------------------------

def test_check_deploy_is_clean_with_the_documented_production_environment():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stderr


@pytest.mark.parametrize(("unset", "warning"), [
    pytest.param("HTTPS", "security.W004", id="no-https-no-hsts"),
    pytest.param("EMAIL_HOST", "helpdesk.W002", id="no-smtp"),
    pytest.param("HELPDESK_BASE_URL", "helpdesk.W003", id="no-base-url"),
])
def test_check_deploy_names_what_is_missing(unset, warning):
    env = {k: v for k, v in PRODUCTION.items() if k != unset}
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode != 0
    assert warning in result.stderr


# --- HTTPS, HSTS, Secure cookies, the TLS proxy ------------------------------------------------------

YEAR = 365 * 24 * 3600
PLAIN = {"SESSION_COOKIE_SECURE": False, "CSRF_COOKIE_SECURE": False, "SECURE_HSTS_SECONDS": 0,
         "SECURE_SSL_REDIRECT": False, "SECURE_PROXY_SSL_HEADER": None}
HTTPS_ON = {"SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True, "SECURE_HSTS_SECONDS": YEAR,
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_HSTS_PRELOAD": True}
PROXY = ["HTTP_X_FORWARDED_PROTO", "https"]


@pytest.mark.parametrize(("env", "expected"), [
    pytest.param({}, PLAIN, id="default"),
    pytest.param({"HTTPS": "1"}, {**HTTPS_ON, "SECURE_SSL_REDIRECT": False, "SECURE_PROXY_SSL_HEADER": None},
                 id="https-without-proxy-header"),
    pytest.param({"HTTPS": "1", "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https"},
                 {**HTTPS_ON, "SECURE_SSL_REDIRECT": True, "SECURE_PROXY_SSL_HEADER": PROXY}, id="https-behind-proxy"),
    pytest.param({"HTTPS": "1", "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto:https", "SECURE_SSL_REDIRECT": "0"},
                 {"SECURE_SSL_REDIRECT": False, "SECURE_PROXY_SSL_HEADER": PROXY}, id="proxy-redirects-itself"),
    pytest.param({"HTTPS": "1", "SECURE_HSTS_SECONDS": "3600", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "0",
                  "SECURE_HSTS_PRELOAD": "0"},
                 {"SECURE_HSTS_SECONDS": 3600, "SECURE_HSTS_INCLUDE_SUBDOMAINS": False, "SECURE_HSTS_PRELOAD": False},
                 id="apex-domain"),
    pytest.param({"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Ssl: on"},
                 {**PLAIN, "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_SSL", "on"]}, id="other-proxy-header"),
])
def test_https_settings(env, expected):
    got = Started({"EMAIL_HOST": "smtp.example.com", **env}).settings
    assert {name: got[name] for name in expected} == expected


@pytest.mark.parametrize("value", ["X-Forwarded-Proto", "X-Forwarded-Proto:", "X Forwarded: https", ": https"])
def test_proxy_header_that_cannot_be_read_is_refused(value):
    result = run(["manage.py", "check"], {"SECURE_PROXY_SSL_HEADER": value})
    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER" in result.stderr and "X-Forwarded-Proto: https" in result.stderr


# --- Production without SMTP --------------------------------------------------------------------------

@pytest.mark.parametrize(("env", "warned"), [
    pytest.param({"DEBUG": "0"}, True, id="production-without-smtp"),
    pytest.param({"DATABASE_URL": PG, "REDIS_URL": REDIS}, True, id="real-services-without-smtp"),
    pytest.param({"DEBUG": "0", "EMAIL_HOST": "smtp.example.com"}, False, id="production-with-smtp"),
    pytest.param({}, False, id="embedded-default"),
])
def test_production_without_smtp_warns_at_start(env, warned):
    started = Started({"SECRET_KEY": STRONG_KEY, **env})
    text = "password-reset links and chat transcripts would only be printed to the server log"
    assert started.says("helpdesk.W002", text) is warned


# --- Demo logins --------------------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize(("database_url", "redis_url", "refused_because"), [
    pytest.param("", "", None, id="embedded-default"),
    pytest.param(PG, "", "DATABASE_URL is set", id="database"),
    pytest.param("", REDIS, "REDIS_URL is set", id="redis"),
    pytest.param(PG, REDIS, "DATABASE_URL and REDIS_URL are set", id="both"),
])
def test_demo_logins_only_on_the_embedded_default(settings, django_user_model, database_url, redis_url,
                                                  refused_because):
    from io import StringIO

    from django.core.management import call_command

    from tickets.models import Department

    settings.DATABASE_URL, settings.REDIS_URL = database_url, redis_url
    out = StringIO()
    call_command("demo_setup", stdout=out)
    users = set(django_user_model.objects.values_list("username", flat=True))
    if refused_because:
        assert users == set() and not Department.objects.exists()
        assert refused_because in out.getvalue() and "createsuperuser" in out.getvalue()
    else:
        assert users == {"admin", "agent"}
        assert "agent / agent" in out.getvalue()


def _database_url(db: dict) -> str:
    if db["ENGINE"] == "django.db.backends.postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_make_run_on_a_real_database_creates_no_demo_logins_and_goes_on(django_user_model):
    """What ``make run`` runs before serving, on the (test) database named by DATABASE_URL: it says
    why it does nothing and succeeds, so that make goes on to serve."""
    from django.db import connection

    for env in ({"DEBUG": "1"}, {"SECRET_KEY": STRONG_KEY}):
        result = run(["manage.py", "demo_setup", "--url", "http://127.0.0.1:8000"],
                     {"DATABASE_URL": _database_url(connection.settings_dict), **env})
        assert result.returncode == 0, result.stderr
        assert "No demo logins" in result.stdout and "DATABASE_URL is set" in result.stdout
        assert not django_user_model.objects.exists()


# --- The policy on every page -------------------------------------------------------------------------

class InlineCode(HTMLParser):
    """Everything in a page a strict CSP would refuse: inline scripts, handlers, styles, javascript:."""

    def __init__(self):
        super().__init__()
        self.found = []
        self._script = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and "src" not in attrs and attrs.get("type") not in ("application/json", "text/template"):
            self._script = tag
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.found.append(f"{tag} {name}=")
            if name == "style":
                self.found.append(f"{tag} style=")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                    "javascript:"):
                self.found.append(f"{tag} {name}=javascript:")

    def handle_data(self, data):
        if self._script and data.strip():
            self.found.append(f"<script> {data.strip()[:60]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def _superuser():
    return UserFactory(is_staff=True, is_superuser=True)


PAGES = [
    # (name, who is logged in, the URL, the frame-ancestors the page must have)
    ("console", AgentFactory, lambda: reverse("console"), "'none'"),
    ("login", None, lambda: reverse("login"), "'none'"),
    ("admin-login", None, lambda: "/admin/login/", "'none'"),
    ("admin-index", _superuser, lambda: "/admin/", "'none'"),
    ("admin-chat-list", _superuser, lambda: "/admin/chat/chat/", "'none'"),
    ("admin-chat-change", _superuser, lambda: f"/admin/chat/chat/{start_chat().pk}/change/", "'none'"),
    ("admin-department-add", _superuser, lambda: "/admin/tickets/department/add/", "'none'"),
    ("admin-user-change", _superuser, lambda: f"/admin/auth/user/{UserFactory().pk}/change/", "'none'"),
    ("widget", None, lambda: reverse("widget") + "?host=https://www.example.com", "'self' https://www.example.com"),
    ("demo-home", None, lambda: "/demo/", "'none'"),
    ("demo-pricing", None, lambda: "/demo/pricing/", "'none'"),
    ("not-found", None, lambda: "/no-such-page/", "'none'"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "url", "ancestors"), [pytest.param(*p[1:], id=p[0]) for p in PAGES])
def test_every_page_has_the_policy_and_no_inline_code(client, settings, who, url, ancestors):
    settings.CHAT_EMBED_ORIGINS = ["https://www.example.com"]
    settings.DEMO_SITE = True
    if who:
        client.force_login(who())
    url = url()
    response = client.get(url)
    assert response.status_code == (404 if url.startswith("/no-such") else 200)
    assert csp(response) == {
        "default-src": "'self'",
        "img-src": "'self' data: blob:",
        "connect-src": "'self' ws://testserver wss://testserver",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": ancestors,
    }
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response.get("X-Frame-Options") == (None if ancestors != "'none'" else "DENY")
    assert inline_code(response.content.decode()) == []


@pytest.mark.parametrize(("origins", "ancestors"), [
    (["*"], "*"),
    (["https://shop.example"], "'self' https://shop.example"),
    (["https://shop.example/", "http://b.example:8080", "https://*.example.org"],
     "'self' https://shop.example http://b.example:8080 https://*.example.org"),
    # Not an origin: left out rather than let into the header.
    (["https://shop.example; script-src *", "shop.example", "javascript:x"], "'self'"),
])
@pytest.mark.django_db
def test_widget_page_may_be_framed_by_the_embedding_sites_only(client, settings, origins, ancestors):
    settings.CHAT_EMBED_ORIGINS = origins
    response = client.get(reverse("widget"))
    assert csp(response)["frame-ancestors"] == ancestors
    assert csp(response)["default-src"] == "'self'"


@pytest.mark.django_db
@pytest.mark.parametrize(("host", "connect"), [
    ("127.0.0.1:8000", "'self' ws://127.0.0.1:8000 wss://127.0.0.1:8000"),
    ("help.example.com", "'self' ws://help.example.com wss://help.example.com"),
    # CSP cannot name an IPv6 address: 'self' covers it.
    ("[::1]:8000", "'self'"),
    # A Host that is not ours is answered 400, still under the policy, and not echoed into it.
    ("evil.example", "'self'"),
])
def test_websockets_may_go_to_the_host_the_page_came_from(client, settings, host, connect):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "help.example.com", "[::1]"]
    response = client.get(reverse("login"), headers={"host": host})
    assert response.status_code == (400 if host == "evil.example" else 200)
    assert csp(response)["connect-src"] == connect


@pytest.mark.django_db
@pytest.mark.parametrize(("debug", "inline"), [(True, True), (False, False)])
def test_debug_error_pages_may_run_their_own_inline_code_in_development_only(client, settings, debug, inline):
    settings.DEBUG = debug
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    policy = csp(response)
    assert ("'unsafe-inline'" in policy.get("script-src", "")) is inline
    assert ("'unsafe-inline'" in policy.get("style-src", "")) is inline
    assert "unsafe-inline" not in csp(client.get(reverse("login"))).get("script-src", "")


def test_no_template_has_inline_code():
    """Pages rendered above are only some of what the templates can make: none may have any."""
    emails = ROOT / "templates" / "tickets" / "email"
    for path in (ROOT / "templates").rglob("*.html"):
        found = inline_code(path.read_text())
        if path.is_relative_to(emails):
            # Emails are read in mail clients, never served under the CSP, and need inline styles
            # (mail clients drop stylesheets); no scripts or event handlers all the same.
            found = [f for f in found if not f.endswith(" style=")]
        assert found == [], path


# --- Under daphne: static files, and the https headers behind a TLS proxy -----------------------------

STATIC_POLICY = {"default-src": "'none'", "img-src": "'self' data:", "style-src": "'self'",
                 "frame-ancestors": "'none'", "base-uri": "'none'", "form-action": "'none'"}


def _get(server, path: str, headers: dict | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


@pytest.fixture(scope="module")
def daphne_servers(django_db_setup, tmp_path_factory):
    """daphne as production runs it: one on plain http, one behind a TLS proxy (HTTPS=1 and the
    proxy's header); neither has SMTP."""
    from django.db import connection

    from tests.live_server import LiveHelpdesk, server_env

    logs = tmp_path_factory.mktemp("daphne-security")
    plain = LiveHelpdesk(server_env(connection.settings_dict, embed_origins="https://www.example.com"),
                         logs / "plain.log")
    https = LiveHelpdesk(server_env(connection.settings_dict, extra={
        "HTTPS": "1", "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https"}), logs / "https.log")
    plain.start()
    https.start()
    yield plain, https
    plain.stop()
    https.stop()


@pytest.mark.parametrize(("path", "status", "content_type"), [
    ("/static/chat/widget.js", 200, "text/javascript"),
    ("/static/chat/core/socket.js", 200, "text/javascript"),
    ("/static/chat/css/base.css", 200, "text/css"),
    ("/static/demo/site.css", 200, "text/css"),
    ("/static/admin/js/core.js", 200, "text/javascript"),
    ("/static/chat/no-such-file.js", 404, None),
])
def test_static_files_are_nosniff_and_inert(daphne_servers, path, status, content_type):
    plain, _ = daphne_servers
    response = _get(plain, path)
    assert response.status == status
    if content_type:
        assert response.getheader("Content-Type").startswith(content_type)
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Referrer-Policy") == "same-origin"
    assert csp(response.getheader("Content-Security-Policy")) == STATIC_POLICY
    assert response.getheader("Strict-Transport-Security") is None


@pytest.mark.parametrize(("path", "ancestors"), [
    ("/accounts/login/", "'none'"),
    ("/widget/?host=https://www.example.com", "'self' https://www.example.com"),
    ("/demo/", "'none'"),
    ("/admin/login/", "'none'"),
])
def test_pages_under_daphne_have_the_policy(daphne_servers, path, ancestors):
    plain, _ = daphne_servers
    response = _get(plain, path)
    assert response.status == 200
    policy = csp(response.getheader("Content-Security-Policy"))
    assert policy["frame-ancestors"] == ancestors
    assert policy["connect-src"] == f"'self' ws://127.0.0.1:{plain.port} wss://127.0.0.1:{plain.port}"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert inline_code(response.body.decode()) == []


HSTS = "max-age=31536000; includeSubDomains; preload"


@pytest.mark.parametrize(("path", "via_proxy", "status", "hsts"), [
    ("/accounts/login/", True, 200, HSTS),
    ("/static/chat/widget.js", True, 200, HSTS),
    ("/widget/", True, 200, HSTS),
    # Plain http reaching the app: sent to https, except the load balancer's health check.
    ("/accounts/login/", False, 301, None),
    ("/healthz", False, 200, None),
])
def test_behind_a_tls_proxy(daphne_servers, path, via_proxy, status, hsts):
    _, https = daphne_servers
    response = _get(https, path, {"X-Forwarded-Proto": "https"} if via_proxy else {})
    assert response.status == status
    assert response.getheader("Strict-Transport-Security") == hsts
    if status == 301:
        assert response.getheader("Location") == f"https://127.0.0.1:{https.port}{path}"


def test_cookies_are_secure_behind_a_tls_proxy(daphne_servers):
    plain, https = daphne_servers
    secure = _get(https, "/accounts/login/", {"X-Forwarded-Proto": "https"}).getheader("Set-Cookie")
    assert secure.startswith("csrftoken=") and "; Secure" in secure
    assert "; Secure" not in _get(plain, "/accounts/login/").getheader("Set-Cookie")


def test_daphne_says_at_start_that_emails_would_only_be_printed(daphne_servers):
    for server in daphne_servers:
        log = server.log.read_text()
        assert "helpdesk.W002" in log and "would only be printed" in log, log[-2000:]
