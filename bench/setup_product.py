"""Run in the product's environment by the harness (``python -m bench.setup_product``): migrate the
fresh benchmark database and make ``BENCH_AGENTS`` agent logins (``bench-agent-0`` …) with the
password ``BENCH_AGENT_PASSWORD``, members of the "Agents" group as an admin would make them; and
raise every rate limit (chat/limits.py) above the load, as an admin would in Django admin: every client
comes from 127.0.0.1 and sends far faster than a person, so the checks run (and cost what they cost)
but refuse nothing.

One Django start-up for both steps; the password is hashed once and shared, since hashing it per
user would only slow the set-up down."""

import os

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command

    from chat.agents_group import ensure_agents_group
    from chat.limits import RULES
    from chat.models import RateLimit

    call_command("migrate", interactive=False, verbosity=0)
    group = ensure_agents_group()
    RateLimit.objects.bulk_create([RateLimit(name=rule.name, limit=2_000_000_000) for rule in RULES])
    password = make_password(os.environ["BENCH_AGENT_PASSWORD"])
    users = get_user_model()
    for i in range(int(os.environ.get("BENCH_AGENTS", "0"))):
        user = users.objects.create(username=f"bench-agent-{i}", first_name="Bench", last_name=f"Agent {i}",
                                    password=password)
        user.groups.add(group)


if __name__ == "__main__":
    main()
