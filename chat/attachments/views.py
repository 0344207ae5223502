"""Taking and serving files over HTTP (docs/protocol.md, "Files").

Uploads: the body is the file's bytes. A visitor proves who they are with the ``X-Visitor-Token``
header (never in a URL), an agent with the session and the CSRF token. The upload is read, typed and
re-encoded on a worker thread, never on the thread every socket's database work shares; daphne has
already cut off a body past the admin's size limit as it arrived (``helpdesk/upload_guard.py``),
and the copy here counts again for servers without that guard.

Serving: only through ``file_view``, which checks the reader is an agent, the chat's own visitor, or
holds a signed link made for a transcript's recipient. Images (re-encoded by us) are shown inline;
everything else is a download. Never HTML or SVG inline, never sniffed.
"""

import asyncio
import logging
from urllib.parse import quote, unquote

from asgiref.sync import sync_to_async
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from chat import calls, events, limits, selectors
from chat.attachments import intake, storage
from chat.attachments.services import Stored, attachment_post, attachment_precheck
from chat.errors import ChatError
from chat.models import Attachment
from chat.permissions import is_agent
from chat.services import Actor, PostResult
from helpdesk import upload_guard
from tickets import links

log = logging.getLogger(__name__)

VISITOR_TOKEN_HEADER = "X-Visitor-Token"
FILE_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"

_STATUS = {"invalid": 400, "unauthorized": 401, "forbidden": 403, "blocked": 403, "not_found": 404, "chat_ended": 409,
           "conflict": 409, "too_large": 413, "unsupported_type": 415, "rate_limited": 429, "unavailable": 503}
UNAVAILABLE_RETRY_SECONDS = 5


def _error(code: str, message: str, *, retry_after: int | None = None) -> JsonResponse:
    body = {"error": {"code": code, "message": message}}
    if retry_after is not None:
        body["error"]["retry_after"] = retry_after
    response = JsonResponse(body, status=_STATUS.get(code, 400))
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _answer(result: PostResult) -> JsonResponse:
    frame = events.message_frame(result.message, result.chat.public_id)
    return JsonResponse({"chat": frame["chat"], "message": frame["message"], "duplicate": result.duplicate},
                        status=200 if result.duplicate else 201)


def _off_thread(func):
    """Run on a worker thread of its own: not the one Channels' database calls share."""
    return sync_to_async(func, thread_sensitive=False)


@csrf_exempt  # authenticated by a header, which another site cannot make a browser send
@require_POST
async def visitor_upload(request, chat_id: str):
    token = request.headers.get(VISITOR_TOKEN_HEADER, "")
    visitor = await calls.db(selectors.visitor_by_token)(token) if token else None
    if visitor is None:
        return _error("unauthorized", "Your chat session was not recognised. Reload the page and try again.")
    return await _upload(request, chat_id, Actor.for_visitor(visitor.pk))


@require_POST
async def agent_upload(request, chat_id: str):
    user = await request.auser()
    if not await calls.db(is_agent)(user):
        return _error("unauthorized", "You are signed out. Sign in again to send files.")
    return await _upload(request, chat_id, Actor.for_agent(user))


async def _upload(request, chat_id: str, actor: Actor) -> JsonResponse:
    """Taken to its end once begun, also when the client goes away meanwhile (Django then cancels
    the view): the file is stored as a message or nothing of it is kept, never half of it. A client
    that lost the answer sends the upload again and is answered with the stored one."""
    task = asyncio.ensure_future(_take_upload(request, chat_id, actor))
    _unfinished.add(task)
    task.add_done_callback(_unfinished.discard)
    return await asyncio.shield(task)


_unfinished: set[asyncio.Task] = set()


async def _take_upload(request, chat_id: str, actor: Actor) -> JsonResponse:
    client_id = request.headers.get("X-Client-Id", "")
    raw_name = unquote(request.headers.get("X-File-Name", ""), errors="replace")
    prepared = stored = None
    posting = False  # once the message's write may have committed, its stored bytes are its
    try:
        ip = limits.request_ip(request)
        found = await calls.service(attachment_precheck, sender=None, chat_public_id=chat_id, actor=actor,
                                    client_id=client_id, ip=ip)
        if isinstance(found, PostResult):
            return _answer(found)
        await limits.upload_check(chat=found.pk, ip=ip)
        config = await calls.db(selectors.upload_settings)()
        upload_guard.remember_limit(config.max_bytes)
        path, size = await _off_thread(intake.receive)(request, config.max_bytes)
        prepared = await _off_thread(intake.prepare)(path, size, raw_name, set(config.types))
        stored = await _off_thread(_store)(prepared)
        posting = True
        result = await calls.service(attachment_post, sender=None, chat=found, actor=actor, client_id=client_id,
                                     prepared=prepared, stored=stored, ip=ip)
        if result.duplicate and result.message.attachment.storage_key != stored.key:
            await _off_thread(storage.delete)(stored.key, stored.thumbnail_key)  # another upload's won
        return _answer(result)
    except (ChatError, *calls.CONNECTION_ERRORS) as refused:
        if not isinstance(refused, ChatError):  # the database away, also after calls.db's retry
            # If the write's commit went through before the connection broke, the row holds these
            # bytes: keep them (a file too many costs space; a row without its file loses it).
            if stored is not None and not posting:
                await _off_thread(storage.delete)(stored.key, stored.thumbnail_key)
            log.warning("upload refused: the database is unavailable", exc_info=True)
            return _error("unavailable", "The chat is briefly unavailable. Please send the file again in a moment.",
                          retry_after=UNAVAILABLE_RETRY_SECONDS)
        if stored is not None:  # refused: no row holds them
            await _off_thread(storage.delete)(stored.key, stored.thumbnail_key)
        return _error(refused.code, refused.message, retry_after=getattr(refused, "retry_after", None))
    finally:
        if prepared is not None:
            await _off_thread(prepared.discard)()


def _store(prepared: intake.Prepared) -> Stored:
    key = storage.save_file(prepared.path)
    try:
        thumbnail_key = storage.save_bytes(prepared.thumbnail) if prepared.thumbnail else ""
    except BaseException:
        storage.delete(key)
        raise
    return Stored(key, thumbnail_key)


# --- Serving ----------------------------------------------------------------------------------------


def content_disposition(name: str, *, inline: bool) -> str:
    """RFC 6266: ``filename*`` with the name in UTF-8, and a plain ``filename`` for old clients made of
    the name's printable ASCII (quotes and backslashes replaced)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name) or "file"
    return f'{"inline" if inline else "attachment"}; filename="{fallback}"; filename*=UTF-8\'\'{quote(name, safe="")}'


def _private(response):
    """Every answer of the file view, refusals too: for this reader only, never kept by a shared cache."""
    response["Vary"] = "Cookie, X-Visitor-Token"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _refused(request, status: int, message: str):
    response = render(request, "chat/file_refused.html", {"message": message}, status=status)
    response["Cache-Control"] = "private, no-store"
    return _private(response)


def _reader_may_open(request, attachment: Attachment | None, ref: str):
    """None when the reader may open the file; else the response that says no."""
    token = request.headers.get(VISITOR_TOKEN_HEADER)
    link = request.GET.get("t")
    if is_agent(request.user):
        return None if attachment is not None else _refused(request, 404, "There is no such file.")
    if token:
        visitor = selectors.visitor_by_token(token)
        if visitor is not None and attachment is not None and attachment.chat.visitor_id == visitor.pk:
            return None
        return _refused(request, 404, "There is no such file.")
    if link:
        try:
            links.attachment_link_check(link, ref)
        except links.LinkExpired as expired:
            return _refused(request, 403, str(expired))
        except links.LinkInvalid as invalid:
            return _refused(request, 403, str(invalid))
        return None if attachment is not None else _refused(request, 404, "This file is no longer here.")
    return _refused(request, 403, "Sign in to the helpdesk, or open the link in your transcript email, "
                                  "to see this file.")


def _opened(request, ref: str, part: str):
    """The file to send, or the refusal: (attachment, handle, None) or (None, None, response)."""
    attachment = Attachment.objects.select_related("chat").filter(ref=ref).first()
    refusal = _reader_may_open(request, attachment, ref)
    if refusal is not None:
        return None, None, refusal
    key = attachment.storage_key if part == "file" else attachment.thumbnail_key
    if not key:
        return None, None, _refused(request, 404, "This file has no thumbnail.")
    try:
        return attachment, storage.open_file(key), None
    except OSError:
        log.warning("stored file %s of attachment %s is missing", key, attachment.ref)
        return None, None, _refused(request, 404, "This file is no longer here.")


async def _chunks(handle):
    """The file, a chunk at a time, read off the event loop: never held whole in memory."""
    read = sync_to_async(handle.read, thread_sensitive=False)
    try:
        while chunk := await read(intake.CHUNK_BYTES):
            yield chunk
    finally:
        await sync_to_async(handle.close, thread_sensitive=False)()


@require_http_methods(["GET", "HEAD"])
async def file_view(request, ref: str, part: str = "file"):
    await request.auser()  # the session's user, read here, not on the database thread's turn below
    attachment, handle, refusal = await calls.db(_opened)(request, ref, part)
    if refusal is not None:
        return refusal
    inline = attachment.kind == Attachment.Kind.IMAGE and request.GET.get("download") != "1"
    if part == "file":
        name, content_type, size = attachment.name, attachment.content_type, attachment.size
    else:
        name, content_type, size = attachment.name.rsplit(".", 1)[0] + "-thumbnail.webp", "image/webp", None
    response = StreamingHttpResponse(_chunks(handle), content_type=content_type)
    if size is not None:
        response["Content-Length"] = str(size)
    response["Content-Disposition"] = content_disposition(name, inline=inline)
    response["Content-Security-Policy"] = FILE_POLICY
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, max-age=300"
    return _private(response)
