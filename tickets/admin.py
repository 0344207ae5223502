from django.contrib import admin

from .models import TICKET_REF_PREFIX, Department, Ticket


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "position")
    list_editable = ("is_active", "position")


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ("ref", "subject", "status", "department", "assigned_agent", "requester_email", "created_at")
    list_filter = ("status", "department")
    search_fields = ("subject", "requester_name", "requester_email")
    readonly_fields = ("ref", "created_at", "updated_at")

    def get_search_results(self, request, queryset, search_term):
        """Find a ticket by its ref, e.g. HD-000042."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip().upper()
        if term.startswith(TICKET_REF_PREFIX) and term[len(TICKET_REF_PREFIX):].isdigit():
            results |= queryset.filter(pk=int(term[len(TICKET_REF_PREFIX):]))
        return results, may_have_duplicates
