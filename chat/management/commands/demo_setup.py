"""Create the demo logins and departments for the embedded default, and print the logins."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from chat.agents_group import AGENTS_GROUP_NAME, ensure_agents_group
from tickets.models import Department

DEMO_DEPARTMENTS = ["Sales", "Support"]


class Command(BaseCommand):
    help = "Create demo agent and admin logins and two departments (idempotent), and print the logins."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where the app will be served.")

    def handle(self, *args, **options):
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

        self.stdout.write(self.style.SUCCESS("Demo logins (change these before anything real):"))
        self.stdout.write(f"  agent console  {url}/console/   agent / agent")
        self.stdout.write(f"  admin          {url}/admin/     admin / admin")
        self.stdout.write(f"  demo website   {url}/demo/")
