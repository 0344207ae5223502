"""Browser tests: the app under daphne in its own process, on the test database, a host website on
another origin (127.0.0.2), and Debian's Chromium driven by Playwright."""

import os
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import require
from tests.live_server import LiveHelpdesk, server_env

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HOST_SITE_IP = "127.0.0.2"

HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - Host Shop</title></head>
<body style="font-family: sans-serif; margin: 2rem">
<h1>{title}</h1>
<nav><a href="/">Home</a> <a href="/pricing">Pricing</a></nav>
<p>A website on another origin that embeds the helpdesk chat with one script tag.</p>
<script src="{helpdesk}/static/chat/widget.js" async></script>
</body></html>
"""


@pytest.fixture(scope="session")
def host_site():
    """A plain website at http://127.0.0.2:PORT whose pages embed the widget of ``helpdesk_url``."""
    state = {"helpdesk": ""}

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            title = {"/": "Home", "/pricing": "Pricing"}.get(self.path.split("?")[0], "Page")
            body = HOST_PAGE.format(title=title, helpdesk=state["helpdesk"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    try:
        server = ThreadingHTTPServer((HOST_SITE_IP, 0), Page)
    except OSError as exc:
        require(False, f"cannot bind {HOST_SITE_IP}: {exc}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.state = state
    server.url = f"http://{HOST_SITE_IP}:{server.server_address[1]}"
    yield server
    server.shutdown()


@pytest.fixture(scope="session")
def helpdesk(django_db_setup, host_site, tmp_path_factory):
    """The helpdesk under daphne, in another process, on the test database."""
    from django.db import connection

    log = tmp_path_factory.mktemp("daphne") / "daphne.log"
    server = LiveHelpdesk(server_env(connection.settings_dict, embed_origins=host_site.url), log)
    server.start()
    host_site.state["helpdesk"] = server.url
    yield server
    server.stop()


# Playwright starts Chromium with these features off. One of them, third-party storage partitioning,
# is on in every real Chrome: without it the widget's cross-site iframe gets no storage at all, and a
# reload of the host page would forget the visitor. Launch with the same list minus that one.
PLAYWRIGHT_DISABLED_FEATURES = (
    "--disable-features=AvoidUnnecessaryBeforeUnloadCheckSync,DestroyProfileOnBrowserClose,HttpsUpgrades,"
    "HttpsFirstBalancedModeAutoEnable,LensOverlay,MediaRouter,PaintHolding,ThirdPartyStoragePartitioning,"
    "AvoidCorsURLLoaderRestartOnRedirect,TcpPortRandomizationWin,OptimizationHints,NetworkTimeServiceQuerying,"
    "AimEnabled,PreconnectToSearch,msForceBrowserSignIn,msEdgeUpdateLaunchServicesPreferredVersion"
)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]


@pytest.fixture(scope="module")
def _django_beside_playwright():
    """Playwright's sync API keeps an event loop running in this thread, and Django refuses database
    calls where a loop runs. The test's own calls (test data, the flush after it) are plain sync code.
    Module scope: set before any test's database fixture, restored after the last one's teardown."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(_django_beside_playwright):
    """One Chromium per test module; closed with it, so that its event loop is gone before the
    async tests of other modules run."""
    require(os.path.exists(CHROMIUM), f"Chromium is not installed at {CHROMIUM} (make chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, PLAYWRIGHT_DISABLED_FEATURES.replace("ThirdPartyStoragePartitioning,", "")],
            ignore_default_args=[PLAYWRIGHT_DISABLED_FEATURES],
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """Pages in fresh browser contexts (separate storage and cookies), closed after the test."""
    contexts = []

    def make(**kwargs):
        context = browser.new_context(viewport={"width": 1280, "height": 800}, reduced_motion="reduce", **kwargs)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    _server_settled()


def _server_settled(timeout: float = 5.0) -> None:
    """Wait until the server has done what closing the pages set off (a widget's socket closing records
    that the visitor left), so that the flush after the test does not race it: on PostgreSQL, TRUNCATE
    and such a transaction deadlock. Bounded: a test that killed the server leaves counts behind."""
    from django.db import connection

    from chat.models import Visitor

    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                           " AND pid <> pg_backend_pid() AND state <> 'idle'")
            busy = cursor.fetchone()[0]
        if not busy and not Visitor.objects.filter(sockets_open__gt=0).exists():
            return
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _fresh_rate_limits(request):
    """Each test is new people, but all of them come from 127.0.0.1 to the one server of the session,
    whose per-address limits a whole run outgrows (chat_start.ip: 20 in 600 s). Every test that uses
    that server starts its counts afresh."""
    if "helpdesk" not in request.fixturenames:
        return
    helpdesk = request.getfixturevalue("helpdesk")
    prefix, url = helpdesk.env.get("CHANNEL_PREFIX"), helpdesk.env.get("REDIS_URL")
    if not (prefix and url):
        return  # counted in the server's memory (no Redis): a run on SQLite starts fewer chats
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}limits:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def agent_login(django_user_model):
    """The login of an agent (in the Agents group, as an admin would make one)."""
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("alex", password="s3cret-pass", first_name="Alex",
                                                 last_name="Agent")
    user.groups.add(Group.objects.get(name="Agents"))
    return "alex", "s3cret-pass"
