"""Django admin for a settings model of one row (pk 1): the list opens the row, which cannot be added
or deleted; ``settings_changed`` runs after each save (every process reads the settings again)."""

from django.contrib import admin
from django.shortcuts import redirect


class SingleRowAdmin(admin.ModelAdmin):
    def settings_changed(self) -> None:
        """What a save tells the rest of the app; nothing by default."""

    def changelist_view(self, request, extra_context=None):
        row, _ = self.model.objects.get_or_create(pk=1)
        meta = self.model._meta
        return redirect(f"admin:{meta.app_label}_{meta.model_name}_change", row.pk)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self.settings_changed()
