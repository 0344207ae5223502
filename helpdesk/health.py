"""GET /healthz: is the database up, does the channel layer carry a message? 200 if both, else 503."""

import logging

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import JsonResponse

from chat.events import layer_check

log = logging.getLogger(__name__)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()[0] == 1
    except Exception:
        log.warning("database check failed", exc_info=True)
        return False


async def healthz(request):
    database = await sync_to_async(_database_ok)()
    layer = await layer_check()
    ok = database and layer
    return JsonResponse(
        {"status": "ok" if ok else "degraded", "database": "up" if database else "down",
         "channel_layer": "up" if layer else "down"},
        status=200 if ok else 503,
    )
