from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from .health import healthz

# The admin's pages list the models on its index; without the sidebar that repeats them, the change
# lists (tickets, chats, visitors, transcript emails) fit a 1280 px window beside their filters.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="console", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("chat.urls")),
]
