from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    """The project package as an app: it only registers the start-up checks of helpdesk/checks.py."""

    name = "helpdesk"
    verbose_name = "Helpdesk"

    def ready(self):
        from . import checks  # noqa: F401
