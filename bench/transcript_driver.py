"""Run in the product's environment by the transcript test (``python -m bench.transcript_driver``): make
``--chats`` chats through the chat services (a visitor starts it, ``bench-agent-0`` accepts, they trade
``--messages`` messages), then end them one after the other at ``--rate`` a second, as an agent's End
Chat does: ``chat.services.chat_end``, which stores the transcript and asks for the email in its
transaction. For each it prints one JSON line: the moment that transaction committed (``time.time()``,
taken by the first on-commit callback, before the task is sent to the broker) and the Message-ID the
email will carry.

Where ``chat_end`` does not ask for the email (an older tree), it asks for it itself
(``tickets.services.transcript_email_request``) and says so: ``"from": "request"``.
"""

import argparse
import json
import os
import sys
import time


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--messages", type=int, default=10)
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from chat import services
    from chat.services import Actor
    from tickets import services as ticket_services
    from tickets.mail import message_id
    from tickets.models import Ticket, TranscriptEmail

    agent = get_user_model().objects.get(username="bench-agent-0")
    nonce = os.urandom(3).hex()
    chats = []
    for i in range(args.chats):
        visitor, _ = services.visitor_register(language="en")
        chat = services.chat_start(visitor_id=visitor.pk, name=f"Bench Visitor {i}", email=f"visitor-{i}@bench.example",
                                   department_id=None, text="Hello, my kettle has not arrived.",
                                   client_id=f"{nonce}-{i}-0").chat
        services.chat_accept(chat_public_id=chat.public_id, agent=agent)
        for k in range(1, args.messages):
            actor = Actor.for_agent(agent) if k % 2 else Actor.for_visitor(visitor.pk)
            services.message_post(chat_public_id=chat.public_id, actor=actor, client_id=f"{nonce}-{i}-{k}",
                                  text=f"Message {k}: the order is **{1000 + i}**, see https://shop.example/{i}")
        chats.append(chat)
    print(json.dumps({"ready": len(chats)}), flush=True)

    start = time.monotonic()
    for i, chat in enumerate(chats):
        delay = start + i / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        committed = {}
        with transaction.atomic():
            transaction.on_commit(lambda committed=committed: committed.setdefault("at", time.time()))
            services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_agent(agent))
        email = TranscriptEmail.objects.filter(ticket_id=chat.ticket_id).order_by("pk").first()
        source = "chat_end"
        if email is None:
            committed.clear()
            source = "request"
            if not Ticket.objects.get(pk=chat.ticket_id).transcript_stored_at:
                from chat.transcript import lines_of

                ticket_services.transcript_store(ticket_id=chat.ticket_id, lines=lines_of(chat))
            with transaction.atomic():
                transaction.on_commit(lambda committed=committed: committed.setdefault("at", time.time()))
                email = ticket_services.transcript_email_request(
                    ticket_id=chat.ticket_id, reason=TranscriptEmail.Reason.AUTOMATIC)
        print(json.dumps({"email": email.pk, "message_id": message_id(email), "committed": committed["at"],
                          "from": source}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
