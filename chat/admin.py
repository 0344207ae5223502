"""Chats, visitors and settings in Django admin; and the ticket's admin page with its chat.

Tickets know nothing of chats, so the ticket page's link to its chat, and the live conversation of a
chat whose transcript is not stored yet, are added here: ``TicketWithChatAdmin`` replaces the tickets
app's ``TicketAdmin`` and differs from it only in those two things.
"""

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from helpdesk.admin_rows import SingleRowAdmin
from tickets.admin import ADMIN_MEDIA, TicketAdmin, conversation_html, short_time, ticket_admin_link
from tickets.models import Ticket

from . import limits, services, ticket_actions
from .attachments import kinds
from .models import Attachment, Chat, ChatSettings, PageView, RateLimit, Visitor
from .ticket_selectors import chat_conversation, chat_of_ticket


def chat_admin_link(chat) -> str:
    if chat is None:
        return "-"
    return format_html('<a href="{}">{}</a> ({})', reverse("admin:chat_chat_change", args=[chat.pk]),
                       chat.public_id, chat.get_status_display())


class PageViewInline(admin.TabularInline):
    """The pages the visitor looked at, as the widget reported them. Read-only."""

    model = PageView
    fields = ("created_at", "title", "url")
    readonly_fields = fields
    extra = 0
    can_delete = False
    classes = ["hd-adm-inline"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Chat)
class ChatAdmin(admin.ModelAdmin):
    list_display = ("public_id", "visitor", "department", "status", "agent", "ticket_link", "started", "ended")
    list_filter = ("status", "department")
    list_select_related = ("visitor", "department", "agent", "ticket")
    search_fields = ("public_id", "visitor__name", "visitor__email", "ip_address")
    search_help_text = "Chat ID, visitor's name or email, or IP address."
    # Nothing here is edited: the chat's state changes through its services (the console, or its ticket's
    # page for the department, which moves the chat with it). A plain save would write back a status or
    # a last_seq read moments before, undoing a message or an end that came in between.
    readonly_fields = ("public_id", "visitor_link", "ticket_link", "started_at", "accepted_at", "ended_at",
                       "ip_address", "user_agent", "last_seq", "status", "agent", "department", "conversation")
    fieldsets = [
        (None, {"fields": ("public_id", "status", "visitor_link", "ticket_link", "agent", "department")}),
        ("Times", {"fields": ("started_at", "accepted_at", "ended_at")}),
        ("Connection", {"fields": ("ip_address", "user_agent", "last_seq")}),
        ("Conversation", {"fields": ("conversation",), "classes": ("hd-adm-wide",)}),
    ]
    inlines = [PageViewInline]
    date_hierarchy = "started_at"

    @property
    def media(self):
        return super().media + ADMIN_MEDIA

    def has_add_permission(self, request):
        return False  # a visitor starts a chat, in the widget

    @admin.display(description="ticket", ordering="ticket")
    def ticket_link(self, obj):
        return ticket_admin_link(obj.ticket)

    @admin.display(description="started", ordering="started_at")
    def started(self, obj):
        return short_time(obj.started_at)

    @admin.display(description="ended", ordering="ended_at")
    def ended(self, obj):
        return short_time(obj.ended_at)

    @admin.display(description="visitor")
    def visitor_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:chat_visitor_change", args=[obj.visitor_id]),
                           str(obj.visitor))

    @admin.display(description="conversation")
    def conversation(self, obj):
        return conversation_html(chat_conversation(obj), caption="Messages", empty="No messages.")


class TicketWithChatAdmin(TicketAdmin):
    """The ticket's page with a link to its chat; before the transcript is stored, it shows the chat's
    messages as they are now."""

    header_fields = ("ref", "chat_link", *TicketAdmin.header_fields[1:])
    readonly_fields = (*TicketAdmin.readonly_fields, "chat_link")

    def _chat(self, obj):
        if not hasattr(obj, "_admin_chat"):
            obj._admin_chat = chat_of_ticket(obj.pk)
        return obj._admin_chat

    @admin.display(description="chat")
    def chat_link(self, obj):
        return chat_admin_link(self._chat(obj))

    def save_model(self, request, obj, form, change):
        """A department chosen here moves the chat with its ticket, through the chat's own service."""
        chat = self._chat(obj) if change else None
        if chat is not None and "department" in form.changed_data:
            form.changed_data.remove("department")
            ticket_actions.chat_department(chat_public_id=chat.public_id, agent=request.user,
                                           department_id=obj.department_id)
        super().save_model(request, obj, form, change)

    def conversation_entries(self, obj):
        lines, caption = super().conversation_entries(obj)
        chat = self._chat(obj)
        if lines or chat is None:
            return lines, caption
        return chat_conversation(chat), f"Chat {chat.public_id} as it is now (no transcript stored yet)"


admin.site.unregister(Ticket)
admin.site.register(Ticket, TicketWithChatAdmin)


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ("__str__", "email", "language", "created", "last_seen")
    search_fields = ("name", "email")
    readonly_fields = ("created_at", "last_seen_at", "sockets_open", "sockets_hidden")

    @property
    def media(self):
        return super().media + ADMIN_MEDIA

    @admin.display(description="created", ordering="created_at")
    def created(self, obj):
        return short_time(obj.created_at)

    @admin.display(description="last seen", ordering="last_seen_at")
    def last_seen(self, obj):
        return short_time(obj.last_seen_at)


class ChatSettingsForm(forms.ModelForm):
    """The kinds of file as checkboxes, one per kind of chat/attachments/kinds.py."""

    upload_types = forms.MultipleChoiceField(
        label="Kinds of file", required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(kind.id, kind.label[0].upper() + kind.label[1:] + f" ({', '.join(kind.extensions)})")
                 for kind in kinds.KINDS],
        help_text="Told by the file's content, never by its name. None ticked: no files can be sent.",
    )

    class Meta:
        model = ChatSettings
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["upload_types"] = [t for t in (self.instance.upload_types or "").split(",") if t]

    def clean_upload_types(self):
        return ",".join(t for t in kinds.ALL_IDS if t in self.cleaned_data["upload_types"])


@admin.register(ChatSettings)
class ChatSettingsAdmin(SingleRowAdmin):
    """One row of settings: the list opens it directly."""

    form = ChatSettingsForm
    fieldsets = [
        (None, {"fields": ["typing_preview", "visitor_gone_minutes"]}),
        ("Files", {"fields": ["upload_max_mb", "upload_types"],
                   "description": "How many files a chat may take a minute is a rate limit (upload.chat)."}),
    ]

    def settings_changed(self) -> None:
        services.chat_settings_changed()


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    """Files sent in chats, read-only (they are records of what was said). Deleting one removes its
    bytes from storage; its message then shows the name only."""

    list_display = ("name", "kind", "size", "chat", "uploader_kind", "created_at", "open_link")
    list_filter = ("kind", "type_id", "uploader_kind")
    search_fields = ("name", "ref", "chat__public_id")
    readonly_fields = [f.name for f in Attachment._meta.fields if f.name not in ("storage_key", "thumbnail_key")]
    exclude = ("storage_key", "thumbnail_key")
    list_select_related = ("chat",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="file")
    def open_link(self, obj):
        return format_html('<a href="{}">open</a>', reverse("file", args=[obj.ref]))


@admin.register(RateLimit)
class RateLimitAdmin(admin.ModelAdmin):
    """Every rate limit of chat/limits.py, one row each, edited in the list. Blank: the default. A
    change reaches every process within a few seconds (limits.CONFIG_CACHE_SECONDS)."""

    list_display = ("name", "what", "default", "limit", "window_seconds")
    list_editable = ("limit", "window_seconds")
    list_display_links = None
    readonly_fields = ("name", "what", "default")
    fields = ("name", "what", "default", "limit", "window_seconds")

    @admin.display(description="counts")
    def what(self, obj):
        rule = limits.BY_NAME.get(obj.name)
        return rule.what if rule else "(no longer used)"

    @admin.display(description="default")
    def default(self, obj):
        rule = limits.BY_NAME.get(obj.name)
        return rule.describe() if rule else ""

    def changelist_view(self, request, extra_context=None):
        limits.ensure_rows()
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        limits.forget()
