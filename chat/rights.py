"""Telling open agent sockets that a user's rights may have changed, so that they check again at once
(chat.permissions.agent_rights) instead of at their next periodic check: on logout, on any save of
the user (deactivation), on a change of their groups or permissions, and on a change of a group's
permissions (for every member). The check decides; this only makes it come sooner."""

from django.contrib.auth import get_user_model, user_logged_out
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save

from . import events


def _changed(user_ids) -> None:
    ids = sorted({int(pk) for pk in user_ids if pk is not None})
    if ids:
        events.publish_rights_changed(ids)


def _on_logout(sender, request, user, **kwargs):
    if user is not None:
        _changed([user.pk])


def _on_user_saved_or_deleted(sender, instance, **kwargs):
    _changed([instance.pk])


def _on_user_relations(sender, instance, action, reverse, pk_set, **kwargs):
    """user.groups / user.user_permissions changed, from either side."""
    if not action.startswith("post_"):
        return
    if reverse:  # group.user_set.add(...) or permission.user_set.remove(...)
        _changed(pk_set or [])
    else:
        _changed([instance.pk])


def _on_group_permissions(sender, instance, action, reverse, pk_set, **kwargs):
    if not action.startswith("post_"):
        return
    groups = Group.objects.filter(pk__in=pk_set or []) if reverse else [instance]
    members = get_user_model().objects.filter(groups__in=groups).values_list("pk", flat=True)
    _changed(members)


def connect() -> None:
    user_model = get_user_model()
    user_logged_out.connect(_on_logout, dispatch_uid="chat.rights.logout")
    post_save.connect(_on_user_saved_or_deleted, sender=user_model, dispatch_uid="chat.rights.user_saved")
    post_delete.connect(_on_user_saved_or_deleted, sender=user_model, dispatch_uid="chat.rights.user_deleted")
    m2m_changed.connect(_on_user_relations, sender=user_model.groups.through, dispatch_uid="chat.rights.groups")
    m2m_changed.connect(_on_user_relations, sender=user_model.user_permissions.through,
                        dispatch_uid="chat.rights.user_permissions")
    m2m_changed.connect(_on_group_permissions, sender=Group.permissions.through,
                        dispatch_uid="chat.rights.group_permissions")
