"""The message's file, added without holding the messages table.

On PostgreSQL a plain AddField of a OneToOneField adds the column, its unique index and its foreign key
in one transaction under an ACCESS EXCLUSIVE lock on ``chat_message``, the busiest table: every message
of every chat waits while the index is built over the whole table. Here the column is added alone
(instant: it is NULL), the unique index is built CONCURRENTLY, and the foreign key is added NOT VALID and
then validated, which scans the table without blocking writes. Elsewhere (SQLite) Django adds the field
as usual. The state is Django's own AddField's, and so is going back (a plain RemoveField).
"""

import django.db.models.deletion
from django.db import migrations, models

FIELD = models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                             related_name="message", to="chat.attachment")

INDEX = "chat_message_attachment_id_key"
FOREIGN_KEY = "chat_message_attachment_id_fk_chat_attachment_id"


class AddAttachmentWithoutLocking(migrations.AddField):
    """Django's AddField, but on PostgreSQL in steps that do not hold the table (see above)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        statements = [
            "ALTER TABLE chat_message ADD COLUMN IF NOT EXISTS attachment_id bigint NULL",
            f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON chat_message (attachment_id)",
            f"ALTER TABLE chat_message ADD CONSTRAINT {INDEX} UNIQUE USING INDEX {INDEX}",
            f"ALTER TABLE chat_message ADD CONSTRAINT {FOREIGN_KEY} FOREIGN KEY (attachment_id) "
            "REFERENCES chat_attachment (id) DEFERRABLE INITIALLY DEFERRED NOT VALID",
            f"ALTER TABLE chat_message VALIDATE CONSTRAINT {FOREIGN_KEY}",
        ]
        for statement in statements:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("chat", "0005_attachments")]

    operations = [AddAttachmentWithoutLocking(model_name="message", name="attachment", field=FIELD)]
