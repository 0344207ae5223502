from django.apps import AppConfig


class BlockingConfig(AppConfig):
    """Visitor, email and IP blocks, the question "may this visitor chat now?" (``selectors``) and the
    expiry sweep (``tasks``). Knows nothing of chats: chat/blocks.py is what a block does to them."""

    name = "blocking"
    verbose_name = "Blocking"
