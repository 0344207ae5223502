"""Pages and who may see them; /healthz; settings that refuse to start; the client IP rule."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from chat.network import resolve_client_ip

from .factories import AgentFactory, UserFactory
from .test_security import STRONG_KEY, csp

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
class TestConsole:
    def test_anonymous_is_sent_to_login(self, client):
        response = client.get(reverse("console"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    def test_logged_in_non_agent_is_sent_to_login_which_says_why(self, client):
        client.force_login(UserFactory())
        response = client.get(reverse("console"), follow=True)
        assert response.redirect_chain[0][0].startswith(reverse("login"))
        assert "This account is not an agent" in response.content.decode()

    def test_login_page_is_public(self, client):
        assert client.get(reverse("login")).status_code == 200

    def test_agent_gets_the_console(self, client):
        client.force_login(AgentFactory())
        response = client.get(reverse("console"))
        assert response.status_code == 200
        assert b"chat/console/app.js" in response.content

    def test_agents_group_grants_the_console(self, client):
        from django.contrib.auth.models import Group

        user = UserFactory()
        user.groups.add(Group.objects.get(name="Agents"))
        client.force_login(user)
        assert client.get(reverse("console")).status_code == 200

    def test_inactive_agent_refused(self, client):
        agent = AgentFactory(is_active=False)
        client.force_login(agent)
        assert client.get(reverse("console")).status_code == 302


@pytest.mark.django_db
class TestAdmin:
    def test_anonymous_and_agents_are_kept_out(self, client):
        assert client.get("/admin/chat/chat/").status_code == 302
        client.force_login(AgentFactory())
        assert client.get("/admin/chat/chat/").status_code == 302

    def test_superuser_sees_chats_tickets_departments_visitors(self, client):
        from tests.factories import start_chat

        chat = start_chat()
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        for url in ("/admin/chat/chat/", "/admin/chat/visitor/", "/admin/tickets/ticket/",
                    "/admin/tickets/department/", f"/admin/chat/chat/{chat.pk}/change/"):
            assert client.get(url).status_code == 200, url
        page = client.get(f"/admin/chat/chat/{chat.pk}/change/").content.decode()
        assert "Hello, I need help" in page
        found = client.get("/admin/tickets/ticket/", {"q": f"HD-{chat.ticket_id:06d}"}).content.decode()
        assert f"HD-{chat.ticket_id:06d}" in found


@pytest.mark.django_db
class TestWidgetFrame:
    def test_anyone_may_load_it_and_embed_it(self, client, settings):
        settings.CHAT_EMBED_ORIGINS = ["*"]
        response = client.get(reverse("widget"), {"host": "https://shop.example"})
        assert response.status_code == 200
        assert "X-Frame-Options" not in response
        assert csp(response)["frame-ancestors"] == "*"
        assert b"https://shop.example" in response.content

    def test_embedding_limited_to_configured_origins(self, client, settings):
        settings.CHAT_EMBED_ORIGINS = ["https://shop.example"]
        response = client.get(reverse("widget"))
        assert csp(response)["frame-ancestors"] == "'self' https://shop.example"

    def test_the_page_hands_the_widget_the_servers_limits(self, client):
        """The widget pre-checks with the server's numbers, never copies of them."""
        response = client.get(reverse("widget"))
        assert b'data-max-chars="5000"' in response.content
        assert b'data-max-comment-chars="1000"' in response.content

    def test_host_that_is_not_an_origin_is_ignored(self, client):
        response = client.get(reverse("widget"), {"host": 'javascript:alert(1)"'})
        assert b"javascript:alert" not in response.content


@pytest.mark.django_db
class TestDemo:
    def test_demo_pages_embed_the_widget(self, client, settings):
        settings.DEMO_SITE = True
        for url in ("/demo/", "/demo/pricing/", "/demo/contact/"):
            response = client.get(url)
            assert response.status_code == 200, url
            assert b"chat/widget.js" in response.content

    def test_demo_off(self, client, settings):
        settings.DEMO_SITE = False
        assert client.get("/demo/").status_code == 404

    def test_unknown_demo_page(self, client, settings):
        settings.DEMO_SITE = True
        assert client.get("/demo/nope/").status_code == 404


@pytest.mark.django_db(transaction=True)
class TestHealth:
    async def test_up(self, async_client):
        response = await async_client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "up", "channel_layer": "up"}

    async def test_up_on_redis(self, async_client, redis_layer):
        response = await async_client.get("/healthz")
        assert response.json()["channel_layer"] == "up"

    async def test_checks_leave_no_subscription_behind(self, redis_layer):
        """A load balancer polls /healthz for ever: each check lets go of the channel it made."""
        from channels.layers import get_channel_layer

        from chat.events import layer_check

        for _ in range(5):
            assert await layer_check()
        layer = get_channel_layer()._get_layer()
        assert layer.channels == {}
        assert all(not shard._subscribed_to for shard in layer._shards)

    async def test_channel_layer_down_is_503(self, async_client, settings):
        from channels.layers import channel_layers

        # Nothing listens on port 1: the layer cannot reach its Redis.
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                                               "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}}
        channel_layers.backends.clear()
        response = await async_client.get("/healthz")
        assert response.status_code == 503
        assert response.json() == {"status": "degraded", "database": "up", "channel_layer": "down"}


def _django_check(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE"}}
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def test_production_without_secret_key_refuses_to_start():
    result = _django_check({"DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "refuses to start" in result.stderr


def test_production_with_secret_key_starts():
    result = _django_check({"DEBUG": "0", "SECRET_KEY": STRONG_KEY})
    assert result.returncode == 0, result.stderr


def _channel_prefix(env: dict) -> str:
    unset = {"CHANNEL_PREFIX", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    code = ("import django; django.setup(); from django.conf import settings; "
            "print(settings.CHANNEL_LAYERS['default']['CONFIG']['prefix'])")
    env = {**clean, "DJANGO_SETTINGS_MODULE": "helpdesk.settings", "REDIS_URL": "redis://127.0.0.1:6379/0", **env}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_deployments_on_one_redis_get_channel_prefixes_of_their_own():
    """Redis pub/sub ignores the database number: without its own prefix, a deployment would hear
    another's ``chat-8``. Processes of one deployment (one database) agree on theirs."""
    shop = _channel_prefix({"DATABASE_URL": "postgres://app:pw@db.internal:5432/shop_help"})
    again = _channel_prefix({"DATABASE_URL": "postgres://app:new-password@db.internal:5432/shop_help"})
    other = _channel_prefix({"DATABASE_URL": "postgres://app:pw@db.internal:5432/school_help"})
    assert shop == again and shop != other and shop.startswith("hd-")
    assert _channel_prefix({"DATABASE_URL": "postgres://db/x", "CHANNEL_PREFIX": "mine"}) == "mine"


class TestClientIp:
    def test_peer_address_without_proxy(self, settings):
        settings.TRUSTED_PROXIES = []
        assert resolve_client_ip("198.51.100.7", "203.0.113.1") == "198.51.100.7"

    def test_forwarded_for_believed_only_from_a_trusted_proxy(self, settings):
        settings.TRUSTED_PROXIES = ["10.0.0.2"]
        assert resolve_client_ip("10.0.0.2", "203.0.113.1") == "203.0.113.1"
        assert resolve_client_ip("10.0.0.2", "198.51.100.9, 203.0.113.1, 10.0.0.2") == "203.0.113.1"
        assert resolve_client_ip("10.0.0.3", "203.0.113.1") == "10.0.0.3"

    def test_garbage_header_falls_back_to_peer(self, settings):
        settings.TRUSTED_PROXIES = ["10.0.0.2"]
        assert resolve_client_ip("10.0.0.2", "not-an-ip") == "10.0.0.2"
        assert resolve_client_ip(None, None) is None


@pytest.mark.django_db
def test_demo_setup_creates_logins_that_work_and_is_idempotent(client, settings):
    from django.core.management import call_command

    from tickets.models import Department

    settings.DATABASE_URL = settings.REDIS_URL = ""  # the embedded default

    call_command("demo_setup", "--url", "http://127.0.0.1:8123", stdout=open(os.devnull, "w"))
    call_command("demo_setup", stdout=open(os.devnull, "w"))
    assert list(Department.objects.values_list("name", flat=True)) == ["Sales", "Support"]
    assert client.login(username="agent", password="agent")
    assert client.get(reverse("console")).status_code == 200
    assert client.login(username="admin", password="admin")
    assert client.get("/admin/").status_code == 200
