"""What tickets tell the apps that use them, without knowing them.

``transcript_email_changed`` (``ticket_id``, ``email_id``): a transcript email was sent, failed for good,
or failed a try; sent after that change commits. chat tells the chat's agents (a fresh ``details``).
"""

from django.dispatch import Signal

transcript_email_changed = Signal()
