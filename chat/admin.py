from django.contrib import admin
from django.shortcuts import redirect

from . import limits, services
from .models import Chat, ChatSettings, Message, PageView, RateLimit, Visitor


class MessageInline(admin.TabularInline):
    """The conversation, read-only: messages are changed by services, never by hand."""

    model = Message
    fields = ("seq", "author_kind", "author_name", "text", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("seq",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PageViewInline(admin.TabularInline):
    model = PageView
    fields = ("created_at", "title", "url")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Chat)
class ChatAdmin(admin.ModelAdmin):
    list_display = ("public_id", "visitor", "department", "status", "agent", "started_at", "ended_at")
    list_filter = ("status", "department")
    search_fields = ("public_id", "visitor__name", "visitor__email", "ip_address")
    readonly_fields = ("public_id", "visitor", "ticket", "started_at", "accepted_at", "ended_at", "ip_address",
                       "user_agent", "last_seq", "status", "agent")
    fields = readonly_fields + ("department",)
    inlines = [MessageInline, PageViewInline]
    date_hierarchy = "started_at"


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ("__str__", "email", "language", "created_at", "last_seen_at")
    search_fields = ("name", "email")
    readonly_fields = ("created_at", "last_seen_at")


@admin.register(ChatSettings)
class ChatSettingsAdmin(admin.ModelAdmin):
    """One row of settings: the list opens it directly."""

    def changelist_view(self, request, extra_context=None):
        settings, _ = ChatSettings.objects.get_or_create(pk=1)
        return redirect("admin:chat_chatsettings_change", settings.pk)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.chat_settings_changed()


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
