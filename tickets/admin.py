"""Tickets in Django admin.

A ticket's page shows what the ticket keeps: its transcript (the stored, sanitised HTML of each line),
its timeline and its transcript emails, read-only, with its labels and rating. Changes an admin makes
go through ``tickets.services`` like any other, so the timeline records them. Tickets know nothing of
chats: the chat app registers a subclass of ``TicketAdmin`` that adds the link to the ticket's chat and,
before a transcript is stored, the live conversation (chat/admin.py).
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from . import services
from .errors import TicketError
from .models import Department, Label, Ticket, TicketEvent, TranscriptEmail, pk_of_ref

ADMIN_MEDIA = forms.Media(css={"all": ["tickets/admin.css"]})


def conversation_html(entries, *, caption: str, empty: str) -> str:
    """A conversation as a table for admin pages. ``entries``: transcript lines, or anything with the
    same attributes (``at``, ``kind``, ``author_name``, ``html``, ``attachment_name``). Only ``html``,
    sanitised by the server when it was stored, is inserted as HTML."""
    return render_to_string("tickets/admin/conversation.html",
                            {"entries": entries, "caption": caption, "empty": empty})


def short_time(value) -> str:
    """A time for a list column: ``2026-03-12 14:05``, local time. Short, so that lists fit 1280 px."""
    if value is None:
        return "-"
    return format_html('<time datetime="{}">{}</time>', value.isoformat(),
                       timezone.localtime(value).strftime("%Y-%m-%d %H:%M"))


def ticket_admin_link(ticket) -> str:
    if ticket is None:
        return "-"
    return format_html('<a href="{}">{}</a>', reverse("admin:tickets_ticket_change", args=[ticket.pk]), ticket.ref)


class ReadOnlyInline(admin.TabularInline):
    """Rows written by services only: shown, never added, changed or deleted here."""

    extra = 0
    can_delete = False
    show_change_link = False
    classes = ["hd-adm-inline"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TimelineInline(ReadOnlyInline):
    model = TicketEvent
    verbose_name = "timeline entry"
    verbose_name_plural = "timeline"
    fields = ("at", "kind", "detail", "actor_name")
    readonly_fields = fields
    ordering = ("at", "pk")


class TranscriptEmailInline(ReadOnlyInline):
    model = TranscriptEmail
    fields = ("requested_at", "to", "reason", "state", "attempts", "last_error", "sent_at")
    readonly_fields = fields
    ordering = ("requested_at", "pk")


class TicketAdminForm(forms.ModelForm):
    class Meta:
        model = Ticket
        fields = "__all__"

    def clean_labels(self):
        labels = self.cleaned_data["labels"]
        if len(labels) > services.MAX_LABELS_PER_TICKET:
            raise forms.ValidationError(f"A ticket can have at most {services.MAX_LABELS_PER_TICKET} labels.")
        return labels


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    form = TicketAdminForm
    list_display = ("ref", "subject", "status", "department", "assignee", "requester", "label_names", "rating",
                    "created")
    list_display_links = ("ref", "subject")
    list_filter = ("status", "department", "rating", "labels")
    search_fields = ("subject", "requester_name", "requester_email")
    search_help_text = "Ref (HD-000042), requester's name or email, or words of the subject."
    list_select_related = ("department", "assigned_agent")
    list_per_page = 50
    date_hierarchy = "created_at"
    filter_horizontal = ("labels",)
    # The fields of the first section; a subclass adds its own (the chat app: a link to the chat).
    header_fields = ("ref", "subject", "status", "department", "assigned_agent", "labels")
    readonly_fields = ("ref", "assigned_agent", "rating", "rating_comment", "rated_at", "conversation",
                       "created_at", "updated_at", "resolved_at", "transcript_stored_at")
    inlines = [TimelineInline, TranscriptEmailInline]

    @property
    def media(self):
        return super().media + ADMIN_MEDIA

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": self.header_fields}),
            ("Requester", {"fields": ("requester_name", "requester_email", "language")}),
            ("Rating", {"fields": ("rating", "rating_comment", "rated_at")}),
            ("Conversation", {"fields": ("conversation",), "classes": ("hd-adm-wide",)}),
            ("Dates", {"fields": ("created_at", "updated_at", "resolved_at", "transcript_stored_at")}),
        ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("labels")

    def has_add_permission(self, request):
        return False  # a ticket is opened by its chat

    @admin.display(description="assignee", ordering="assigned_agent")
    def assignee(self, obj):
        agent = obj.assigned_agent
        return (agent.get_full_name() or agent.get_username()) if agent else "-"

    @admin.display(description="created", ordering="created_at")
    def created(self, obj):
        return short_time(obj.created_at)

    @admin.display(description="requester", ordering="requester_name")
    def requester(self, obj):
        if not obj.requester_email:
            return obj.requester_name or "-"
        return format_html('{}<br><span class="hd-adm-muted">{}</span>', obj.requester_name, obj.requester_email)

    @admin.display(description="labels")
    def label_names(self, obj):
        return ", ".join(label.name for label in obj.labels.all()) or "-"

    def conversation_entries(self, obj) -> tuple[list, str]:
        """The lines the page shows and what they are. A subclass may show others when there is no
        transcript yet."""
        return list(obj.transcript.order_by("position")), "Transcript"

    @admin.display(description="conversation")
    def conversation(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        entries, caption = self.conversation_entries(obj)
        return conversation_html(entries, caption=caption, empty="No transcript yet: the chat has not ended.")

    def get_search_results(self, request, queryset, search_term):
        """Find a ticket by its ref too, e.g. HD-000042."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        pk = pk_of_ref(search_term)
        if pk is not None:
            results |= queryset.filter(pk=pk)
        return results, may_have_duplicates

    # Changes go through the services, which write the timeline.

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        changed = set(form.changed_data)
        plain = [name for name in ("subject", "requester_name", "requester_email", "language") if name in changed]
        if plain:
            obj.save(update_fields=[*plain, "updated_at"])
        if "department" in changed:
            services.ticket_department_set(ticket_id=obj.pk, department_id=obj.department_id, by=request.user)
        if "status" in changed:
            if obj.status == Ticket.Status.RESOLVED:
                services.ticket_resolve(ticket_id=obj.pk, by=request.user, detail="In admin")
            else:
                services.ticket_reopen(ticket_id=obj.pk, by=request.user)

    def save_related(self, request, form, formsets, change):
        if not change:
            return super().save_related(request, form, formsets, change)
        if "labels" in form.changed_data:
            before = set(services.labels_of(form.instance.pk))
            after = {label.name for label in form.cleaned_data["labels"]}
            try:
                for name in sorted(after - before):
                    services.label_add(ticket_id=form.instance.pk, name=name, by=request.user)
                for name in sorted(before - after):
                    services.label_remove(ticket_id=form.instance.pk, name=name, by=request.user)
            except TicketError as error:
                self.message_user(request, error.message, messages.ERROR)
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "position", "send_transcripts")
    list_editable = ("is_active", "position", "send_transcripts")


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ("name", "ticket_count")
    search_fields = ("name",)

    @property
    def media(self):
        return super().media + ADMIN_MEDIA

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(ticket_count=Count("tickets"))

    @admin.display(description="tickets", ordering="ticket_count")
    def ticket_count(self, obj):
        return obj.ticket_count


@admin.register(TranscriptEmail)
class TranscriptEmailAdmin(admin.ModelAdmin):
    """Every transcript email and how its sending went; written by the services and the task only."""

    list_display = ("ticket_link", "to", "reason", "state", "attempts", "error", "requested", "sent")
    list_filter = ("state", "reason")
    search_fields = ("to", "ticket__subject")
    search_help_text = "Address, ticket ref (HD-000042) or subject."
    list_select_related = ("ticket",)
    date_hierarchy = "requested_at"
    fields = ("ticket_link", "to", "reason", "requested_by", "requested_at", "state", "attempts", "last_error",
              "sent_at")
    readonly_fields = fields

    @property
    def media(self):
        return super().media + ADMIN_MEDIA

    @admin.display(description="ticket", ordering="ticket")
    def ticket_link(self, obj):
        return ticket_admin_link(obj.ticket)

    @admin.display(description="requested", ordering="requested_at")
    def requested(self, obj):
        return short_time(obj.requested_at)

    @admin.display(description="sent", ordering="sent_at")
    def sent(self, obj):
        return short_time(obj.sent_at)

    @admin.display(description="last error")
    def error(self, obj):
        text = obj.last_error
        return (text[:80] + "…") if len(text) > 80 else (text or "-")

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        pk = pk_of_ref(search_term)
        if pk is not None:
            results |= queryset.filter(ticket_id=pk)
        return results, may_have_duplicates

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
