"""Blocks in Django admin: see, search and lift them; the block settings. Blocks are made from the
console (an agent's Block button), so they are read-only here but for lifting."""

from django.contrib import admin, messages
from django.utils import timezone

from helpdesk.admin_rows import SingleRowAdmin

from . import selectors, services
from .errors import BlockError
from .models import Block, BlockEvent, BlockSettings


class BlockEventInline(admin.TabularInline):
    model = BlockEvent
    fields = ("at", "kind", "by_name", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("ended", "Ended or expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(ended_at__isnull=True, expires_at__gt=now)
        if self.value() == "ended":
            return queryset.exclude(ended_at__isnull=True, expires_at__gt=now)
        return queryset


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ("value", "kind", "state", "reason_short", "created_by", "created_at", "expires_at", "lifted_by")
    list_filter = (StateFilter, "kind")
    search_fields = ("value", "reason", "created_by__username")
    date_hierarchy = "created_at"
    list_select_related = ("created_by", "lifted_by")
    readonly_fields = ("kind", "value", "reason", "ticket", "created_by", "created_at", "expires_at", "ended_at",
                       "lifted_by", "state")
    fields = readonly_fields
    inlines = [BlockEventInline]
    actions = ["lift"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a block is a record: lift it instead

    @admin.display(description="state")
    def state(self, obj):
        if obj.lifted_by_id or (obj.ended_at and obj.ended_at < obj.expires_at):
            return "lifted"
        return "active" if obj.ended_at is None and obj.expires_at > timezone.now() else "expired"

    @admin.display(description="reason")
    def reason_short(self, obj):
        return obj.reason if len(obj.reason) <= 60 else obj.reason[:59] + "…"

    @admin.action(description="Lift the selected blocks now")
    def lift(self, request, queryset):
        lifted = 0
        for block in queryset:
            try:
                services.block_lift(block_id=block.pk, by=request.user)
                lifted += 1
            except BlockError as refused:
                self.message_user(request, f"{block}: {refused.message}", messages.WARNING)
        if lifted:
            self.message_user(request, f"Lifted {lifted} block{'s' if lifted != 1 else ''}.", messages.SUCCESS)


@admin.register(BlockSettings)
class BlockSettingsAdmin(SingleRowAdmin):
    """One row of settings: the list opens it directly."""

    def settings_changed(self) -> None:
        selectors.forget_cached_settings()
