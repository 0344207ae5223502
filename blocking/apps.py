from django.apps import AppConfig


class BlockingConfig(AppConfig):
    """User and IP blocks. The models and the "may this visitor chat?" check arrive with the blocking
    issue; the app is installed now so that its place in the layout is fixed."""

    name = "blocking"
    verbose_name = "Blocking"
