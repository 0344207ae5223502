"""The floor's one table. Written with one raw INSERT per message (see consumers.py); the model
exists so that a migration creates the table and its constraints."""

from django.db import models
from django.db.models.functions import Now


class FloorMessage(models.Model):
    chat = models.CharField(max_length=64)
    client_id = models.CharField(max_length=64)
    text = models.TextField()
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "floor_message"
        constraints = [models.UniqueConstraint(fields=["chat", "client_id"], name="floor_unique_chat_client_id")]
        indexes = [models.Index(fields=["chat", "id"], name="floor_chat_id")]
