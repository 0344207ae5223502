"""Browser tests: the app under daphne in its own process, on the test database, a host website on
another origin (127.0.0.2), and Debian's Chromium driven by Playwright."""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL, require

ROOT = Path(__file__).resolve().parents[2]
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


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


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


def _server_env(db: dict, host_origin: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SQLITE_PATH"}}
    if db["ENGINE"] == "django.db.backends.postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        env["DATABASE_URL"] = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    else:
        env["SQLITE_PATH"] = str(db["NAME"])
    if REDIS_URL:
        env["REDIS_URL"] = REDIS_URL
        env["CHANNEL_PREFIX"] = f"browser-{uuid.uuid4().hex[:8]}"
    env.update(DEBUG="0", SECRET_KEY="browser-tests-" + "x" * 40, ALLOWED_HOSTS="127.0.0.1,localhost",
               CHAT_EMBED_ORIGINS=host_origin, SERVE_STATIC="1", DEMO_SITE="1", PYTHONUNBUFFERED="1")
    return env


class LiveHelpdesk:
    """daphne serving the app on a fixed port; ``restart()`` drops every socket, as a deploy would."""

    def __init__(self, env: dict, log: Path):
        self.port = _free_port("127.0.0.1")
        self.url = f"http://127.0.0.1:{self.port}"
        self.env, self.log = env, log
        self.process = None

    def start(self) -> None:
        daphne = Path(sys.executable).with_name("daphne")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(daphne), "-b", "127.0.0.1", "-p", str(self.port), "helpdesk.asgi:application"],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"daphne did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def helpdesk(django_db_setup, host_site, tmp_path_factory):
    """The helpdesk under daphne, in another process, on the test database."""
    from django.db import connection

    log = tmp_path_factory.mktemp("daphne") / "daphne.log"
    server = LiveHelpdesk(_server_env(connection.settings_dict, host_site.url), log)
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
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync", "--disable-quic",
                  PLAYWRIGHT_DISABLED_FEATURES.replace("ThirdPartyStoragePartitioning,", "")],
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


@pytest.fixture
def agent_login(django_user_model):
    """The login of an agent (in the Agents group, as an admin would make one)."""
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("alex", password="s3cret-pass", first_name="Alex",
                                                 last_name="Agent")
    user.groups.add(Group.objects.get(name="Agents"))
    return "alex", "s3cret-pass"
