"""The floor: a bare Channels app that does only what the product's hot path must do.

Per message: parse a JSON frame, save one row in PostgreSQL, ``group_send`` it, forward it to the
other member of the chat. It runs under the same daphne, on the same channel layer class and settings
and the same psycopg pool options as the product (its settings take them from ``helpdesk.settings``),
on the same PostgreSQL server (its own database). Whatever the product costs beyond this is ours.

Its frames (not the product's protocol; only the load generator speaks them):

- ``{"type": "join", "chat": ID, "role": "visitor" | "agent"}``: answered with ``joined``; from then on
  the frames the other side of that chat sends.
- ``{"type": "send", "chat": ID, "client_id": C, "text": T}``: answered with ``ack`` (``client_id``,
  ``id``, ``duplicate``); the other side gets ``message``.
- ``{"type": "typing", "chat": ID, "text": T}``: no answer; the other side gets ``typing``. Never stored.
- ``{"type": "resume", "chat": ID, "after": ROW_ID}``: the stored ``message`` frames after that row id,
  then ``resumed`` (``last``, and ``more`` when the answer was cut at 1,000 rows).

A ``client_id`` is stored once per chat (a unique constraint), so a resend after a cut socket is
answered with the stored row, as the product does.
"""
