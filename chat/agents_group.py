"""The "Agents" group: admins make a user an agent by adding them to it."""

from django.contrib.auth.models import Group, Permission

AGENTS_GROUP_NAME = "Agents"


def ensure_agents_group(**kwargs) -> Group:
    group, _ = Group.objects.get_or_create(name=AGENTS_GROUP_NAME)
    permission = Permission.objects.filter(codename="act_as_agent", content_type__app_label="chat").first()
    if permission is not None:
        group.permissions.add(permission)
    return group
