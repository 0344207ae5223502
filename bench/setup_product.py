"""Run in the product's environment by the harness (``python -m bench.setup_product``): migrate the
fresh benchmark database and make ``BENCH_AGENTS`` agent logins (``bench-agent-0`` …) with the
password ``BENCH_AGENT_PASSWORD``, members of the "Agents" group as an admin would make them.

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

    call_command("migrate", interactive=False, verbosity=0)
    group = ensure_agents_group()
    password = make_password(os.environ["BENCH_AGENT_PASSWORD"])
    users = get_user_model()
    for i in range(int(os.environ.get("BENCH_AGENTS", "0"))):
        user = users.objects.create(username=f"bench-agent-{i}", first_name="Bench", last_name=f"Agent {i}",
                                    password=password)
        user.groups.add(group)


if __name__ == "__main__":
    main()
