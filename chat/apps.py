from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Live chat"

    def ready(self):
        from tickets.signals import transcript_email_changed

        from . import limits, rights  # noqa: F401 (limits counts failed logins from its import on)
        from .agents_group import ensure_agents_group
        from .ticket_actions import transcript_email_changed as tell_agents

        post_migrate.connect(ensure_agents_group, sender=self)
        rights.connect()
        transcript_email_changed.connect(tell_agents, dispatch_uid="chat.transcript_email_changed")

        from django.db.models.signals import post_delete

        from .attachments.storage import forget_deleted
        from .models import Attachment

        post_delete.connect(forget_deleted, sender=Attachment, dispatch_uid="chat.attachment_bytes")
