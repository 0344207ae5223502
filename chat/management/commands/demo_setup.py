"""Create the demo logins and departments for the embedded default, and print the logins.

Only on the embedded default: ``make run`` runs this before serving, and on a real database (DATABASE_URL
or REDIS_URL set) ``admin``/``admin`` would be a login anyone could guess. There it says why it does
nothing and succeeds, so that ``make run`` goes on to serve.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand

from chat.agents_group import AGENTS_GROUP_NAME, ensure_agents_group
from tickets.models import Department

DEMO_DEPARTMENTS = ["Sales", "Support"]


class Command(BaseCommand):
    help = "Create demo agent and admin logins and two departments (idempotent), and print the logins."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where the app will be served.")

    def handle(self, *args, **options):
        services = [name for name in ("DATABASE_URL", "REDIS_URL") if getattr(settings, name, "")]
        if services:
            self.stdout.write(self.style.WARNING(
                f"No demo logins or departments: {' and '.join(services)} "
                f"{'is' if len(services) == 1 else 'are'} set, so this is not the embedded default, and "
                "admin/admin and agent/agent would be logins anyone could guess. Make your own: "
                "`manage.py createsuperuser`, then add agents to the Agents group in Django admin."
            ))
            return
        url = options["url"].rstrip("/")
        User = get_user_model()
        ensure_agents_group()
        for position, name in enumerate(DEMO_DEPARTMENTS):
            Department.objects.get_or_create(name=name, defaults={"position": position})

        admin, created = User.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True, "first_name": "Ada"}
        )
        if created:
            admin.set_password("admin")
            admin.save()
        agent, created = User.objects.get_or_create(
            username="agent", defaults={"first_name": "Alex", "last_name": "Agent"}
        )
        if created:
            agent.set_password("agent")
            agent.save()
        agent.groups.add(Group.objects.get(name=AGENTS_GROUP_NAME))
        # Blocking is a right an admin gives (Blocking | Can block visitors…); the demo agent has it.
        agent.user_permissions.add(Permission.objects.get(codename="block_visitor", content_type__app_label="blocking"))

        self.stdout.write(self.style.SUCCESS("Demo logins (change these before anything real):"))
        self.stdout.write(f"  agent console  {url}/console/   agent / agent")
        self.stdout.write(f"  admin          {url}/admin/     admin / admin")
        self.stdout.write(f"  demo website   {url}/demo/")
