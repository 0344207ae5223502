"""Files in chats over HTTP: every kind of bad input refused readably with nothing stored, metadata
stripped from the stored bytes, the size limit while reading, who may read a file, and an upload sent
twice stored once. The daphne-level cut-off is in tests/test_upload_guard.py."""

import io
import os
import threading
import time
import unicodedata
import zipfile
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import Client
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

from chat import services
from chat.attachments import intake
from chat.errors import TooLarge
from chat.models import Attachment, ChatSettings, Message
from tickets import links

from .factories import AgentFactory, UserFactory, VisitorFactory, start_chat

pytestmark = [pytest.mark.django_db(transaction=True)]


# --- Files to send ------------------------------------------------------------------------------------


def png(size=(60, 40), colour="red", **save) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG", **save)
    return buffer.getvalue()


def jpeg_with_everything() -> bytes:
    """A 60×40 JPEG rotated by its EXIF (orientation 6: shown 40×60), with GPS, a comment, an ICC
    profile and XMP."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "SecretCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (51.0, 30.0, 26.0)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    image = Image.new("RGB", (60, 40), "blue")
    image.save(buffer, "JPEG", exif=exif.tobytes(), comment=b"secret-jpeg-comment", icc_profile=icc,
               xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>secret-xmp</x:xmpmeta>")
    data = buffer.getvalue()
    assert b"secret-jpeg-comment" in data and b"SecretCam" in data and b"secret-xmp" in data
    return data


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret-png-text")
    info.add_itxt("Author", "secret-png-itxt")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return png(pnginfo=info, icc_profile=icc)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` × ``height`` and carries almost no data: a bomb's header."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + data


def gif(frames=1, comment=b"") -> bytes:
    images = [Image.new("RGB", (8, 8), (i % 256, (i // 256) * 40, 0)) for i in range(frames)]
    buffer = io.BytesIO()
    options = {"save_all": True, "append_images": images[1:]} if frames > 1 else {}
    if comment:
        options["comment"] = comment
    images[0].save(buffer, "GIF", **options)
    return buffer.getvalue()


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def gif_with_a_larger_later_frame(side: int = 9000) -> bytes:
    """A GIF whose header says 1×1 and whose second frame is ``side`` × ``side``: Pillow grows the
    canvas when it reaches that frame. A few hundred KB that decode to gigabytes."""
    import struct

    def lzw_of(width, height):
        buffer = io.BytesIO()
        Image.new("P", (width, height), 0).save(buffer, "GIF")
        data = buffer.getvalue()
        return data[data.index(b",") + 10:-1]

    def frame(width, height, data):
        return b"!\xf9\x04\x00\x0a\x00\x00\x00," + struct.pack("<HHHHB", 0, 0, width, height, 0) + data

    return (b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
            + frame(1, 1, lzw_of(1, 1)) + frame(side, side, lzw_of(side, side)) * 3 + b";")


def zip_with(mimetype: bytes, compression: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), mimetype, compress_type=compression)
        archive.writestr("content.xml", "<office:document-content/>")
    return buffer.getvalue()


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


# --- Helpers ------------------------------------------------------------------------------------------


def stored_files() -> set[str]:
    root = Path(settings.MEDIA_ROOT) / "attachments"
    return {str(p) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def upload(client: Client, chat, visitor, data: bytes, name: str, client_id: str = "f1", **headers):
    return client.post(f"/chat/{chat.public_id}/uploads/", data=data, content_type="application/octet-stream",
                       headers={"X-Visitor-Token": visitor.token, "X-Client-Id": client_id,
                                "X-File-Name": name, **headers})


def body_of(response) -> bytes:
    """What a file answer streamed (its chunks come from an async iterator)."""
    async def read():
        return b"".join([chunk async for chunk in response.streaming_content])

    assert response.status_code == 200, response.status_code
    return async_to_sync(read)()


def read_stored(attachment: Attachment) -> bytes:
    return (Path(settings.MEDIA_ROOT) / attachment.storage_key).read_bytes()


@pytest.fixture
def chat_of():
    visitor = VisitorFactory()
    return start_chat(visitor), visitor


# --- What is taken ------------------------------------------------------------------------------------


def test_an_image_becomes_a_message_with_the_next_seq_and_a_thumbnail(client, chat_of):
    chat, visitor = chat_of
    response = upload(client, chat, visitor, png(size=(1200, 800)), "Screen%20shot.png")
    assert response.status_code == 201, response.content
    body = response.json()
    message, attachment = body["message"], body["message"]["attachment"]
    assert body["duplicate"] is False and message["seq"] == 2 and message["author"] == "visitor"
    assert message["html"] == "Screen shot.png"
    assert attachment["kind"] == "image" and attachment["type"] == "image/png"
    assert (attachment["width"], attachment["height"]) == (1200, 800)
    assert (attachment["thumbnail_width"], attachment["thumbnail_height"]) == (320, 213)
    thumbnail = client.get(attachment["thumbnail_url"], headers={"X-Visitor-Token": visitor.token})
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(body_of(thumbnail))).size == (320, 213)
    stored = Message.objects.get(chat=chat, seq=2)
    assert stored.attachment.ref == attachment["ref"] and stored.text == "Screen shot.png"


def test_metadata_is_gone_from_the_stored_jpeg_and_its_orientation_applied(client, chat_of):
    chat, visitor = chat_of
    response = upload(client, chat, visitor, jpeg_with_everything(), "holiday.jpg")
    assert response.status_code == 201, response.content
    attachment = Attachment.objects.get()
    data = read_stored(attachment)
    for secret in (b"secret-jpeg-comment", b"SecretCam", b"secret-xmp", b"Exif", b"ICC_PROFILE", b"http://ns.adobe"):
        assert secret not in data, secret
    image = Image.open(io.BytesIO(data))
    assert image.size == (40, 60), "the EXIF orientation was applied to the pixels"
    assert not image.getexif() and "icc_profile" not in image.info and "comment" not in image.info
    assert "xmp" not in image.info and "exif" not in image.info
    assert (attachment.width, attachment.height) == (40, 60)


def test_metadata_is_gone_from_the_stored_png(client, chat_of):
    chat, visitor = chat_of
    assert upload(client, chat, visitor, png_with_text(), "chart.png").status_code == 201
    data = read_stored(Attachment.objects.get())
    assert b"secret-png" not in data and b"iCCP" not in data and b"tEXt" not in data and b"iTXt" not in data
    image = Image.open(io.BytesIO(data))
    assert not getattr(image, "text", {}) and "icc_profile" not in image.info


def test_a_gif_that_is_also_javascript_is_stored_as_a_plain_gif(client, chat_of):
    chat, visitor = chat_of
    polyglot = gif(comment=b"*/alert(document.domain)/*") + b"*/=1;alert(document.cookie);//"
    response = upload(client, chat, visitor, polyglot, "funny.gif")
    assert response.status_code == 201, response.content
    data = read_stored(Attachment.objects.get())
    assert b"alert" not in data and data.startswith(b"GIF8")
    served = client.get(response.json()["message"]["attachment"]["url"], headers={"X-Visitor-Token": visitor.token})
    assert served["Content-Type"] == "image/gif" and served["X-Content-Type-Options"] == "nosniff"


def test_an_animation_keeps_its_frames(client, chat_of):
    chat, visitor = chat_of
    assert upload(client, chat, visitor, gif(frames=5), "spinner.gif").status_code == 201
    assert Image.open(io.BytesIO(read_stored(Attachment.objects.get()))).n_frames == 5


def test_documents_are_typed_by_content_and_served_as_downloads(client, chat_of):
    chat, visitor = chat_of
    response = upload(client, chat, visitor, docx(), "Quote – März.docx")
    assert response.status_code == 201, response.content
    attachment = response.json()["message"]["attachment"]
    assert attachment["kind"] == "file" and attachment["thumbnail_url"] is None
    assert attachment["type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    served = client.get(attachment["url"], headers={"X-Visitor-Token": visitor.token})
    assert served.status_code == 200
    assert served["Content-Disposition"] == (
        "attachment; filename=\"Quote _ M_rz.docx\"; filename*=UTF-8''Quote%20%E2%80%93%20M%C3%A4rz.docx")
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served["Content-Security-Policy"] and "default-src 'none'" in served["Content-Security-Policy"]
    text = upload(client, chat, visitor, b"<b>not html</b>, just text\n", "notes", client_id="f2")
    assert text.status_code == 201, text.content
    assert text.json()["message"]["attachment"]["name"] == "notes.txt"
    served = client.get(text.json()["message"]["attachment"]["url"], headers={"X-Visitor-Token": visitor.token})
    assert served["Content-Type"] == "text/plain; charset=utf-8"
    assert served["Content-Disposition"].startswith("attachment")


# --- What is refused -----------------------------------------------------------------------------------


REFUSED = [
    pytest.param(b"", "empty.txt", 400, "invalid", "This file is empty.", id="zero-bytes"),
    pytest.param(PDF, "photo.png", 400, "invalid", "name ends in .png, but the file is a PDF document", id="mismatch"),
    pytest.param(png(), "report.pdf", 400, "invalid", "ends in .pdf, but the file is a PNG image", id="png-as-pdf"),
    pytest.param(SVG, "logo.png", 415, "unsupported_type", "HTML, SVG or XML document", id="svg-as-image"),
    pytest.param(SVG, "logo.svg", 415, "unsupported_type", "Files ending in .svg cannot be sent", id="svg"),
    pytest.param(HTML, "cat.jpg", 415, "unsupported_type", "HTML, SVG or XML document", id="html-as-image"),
    pytest.param(HTML, "page.html", 415, "unsupported_type", "Files ending in .html cannot be sent", id="html"),
    pytest.param(HTML, "page", 415, "unsupported_type", "HTML, SVG or XML document", id="html-without-name"),
    pytest.param(b"MZ\x90\x00\x03\x00\x00\x00", "setup.txt", 415, "unsupported_type", "kind we do not take",
                 id="binary-as-text"),
    pytest.param(png()[:60], "cut.png", 400, "invalid", "could not be read", id="corrupt-image"),
    pytest.param(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, "bad.png", 400, "invalid", "could not be read",
                 id="png-signature-only"),
    pytest.param(png_header_only(100_000, 100_000), "bomb.png", 400, "invalid", "This image is too large",
                 id="bomb-pixels"),
    pytest.param(png_header_only(20_000, 100), "wide.png", 400, "invalid", "at most 16,384 pixels a side",
                 id="bomb-side"),
    pytest.param(png_header_only(7_000, 7_000), "bomb2.png", 400, "invalid", "40 megapixels",
                 id="bomb-under-pillows-guard"),
    pytest.param(gif(frames=501), "long.gif", 400, "invalid", "frames", id="too-many-frames"),
    pytest.param(b"PK\x03\x04" + b"\x00" * 40, "broken.zip", 415, "unsupported_type", "damaged ZIP", id="bad-zip"),
    pytest.param(gif_with_a_larger_later_frame(), "tiny.gif", 400, "invalid", "This image is too large",
                 id="gif-later-frame-bomb"),
    pytest.param(zip_with(b"application/vnd.oasis.opendocument.text", zipfile.ZIP_DEFLATED), "letter.odt", 400,
                 "invalid", "but the file is a ZIP archive", id="odt-whose-mimetype-is-compressed"),
    pytest.param(b"line one\n" * 20_000 + b"\x1b[2J and then a terminal escape\n", "log.txt", 415,
                 "unsupported_type", "kind we do not take", id="control-character-past-the-first-64-KB"),
    pytest.param(b"caf\xc3\xa9\n" * 30_000 + b"\xff\n", "notes.txt", 415, "unsupported_type",
                 "kind we do not take", id="not-utf8-past-the-first-64-KB"),
]


@pytest.mark.parametrize(("data", "name", "status", "code", "words"), REFUSED)
def test_bad_files_are_refused_readably_and_nothing_is_stored(client, chat_of, data, name, status, code, words):
    chat, visitor = chat_of
    before = stored_files()
    response = upload(client, chat, visitor, data, name)
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and words in error["message"], error
    assert not Attachment.objects.exists() and Message.objects.filter(chat=chat).count() == 1
    assert stored_files() == before
    # The chat goes on.
    services.message_post(chat_public_id=chat.public_id, actor=services.Actor.for_visitor(visitor.pk),
                          client_id="after", text="Still here")
    assert upload(client, chat, visitor, png(), "fine.png", client_id="f2").status_code == 201


def test_a_kind_the_admin_turned_off_is_refused(client, chat_of):
    chat, visitor = chat_of
    ChatSettings.objects.create(upload_types="png,jpeg")
    response = upload(client, chat, visitor, PDF, "invoice.pdf")
    assert response.status_code == 415
    assert response.json()["error"]["message"] == ("A PDF document cannot be sent here. You can send "
                                                   "PNG image or JPEG image.")
    assert not Attachment.objects.exists()


def test_a_file_past_the_admins_limit_is_refused_and_not_kept(client, chat_of):
    chat, visitor = chat_of
    ChatSettings.objects.create(upload_max_mb=1)
    before = stored_files()
    response = upload(client, chat, visitor, b"a" * (1024 * 1024 + 1), "big.txt")
    assert response.status_code == 413
    assert response.json()["error"] == {"code": "too_large",
                                        "message": "This file is larger than 1 MB, the most that can be sent here."}
    assert stored_files() == before and not Attachment.objects.exists()
    assert upload(client, chat, visitor, b"a" * (1024 * 1024), "fits.txt", client_id="f2").status_code == 201


class EndlessStream:
    """A request body that never ends, counting what was read from it."""

    def __init__(self):
        self.read_bytes = 0

    def read(self, size):
        self.read_bytes += size
        return b"x" * size


def test_reading_an_upload_stops_at_the_limit(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    stream = EndlessStream()
    with pytest.raises(TooLarge):
        intake.receive(stream, 1024 * 1024)
    assert stream.read_bytes <= 1024 * 1024 + intake.CHUNK_BYTES
    assert not os.listdir(tmp_path), "the partial file was removed"


NAMES = [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("C:\\Users\\sam\\notes.txt", "notes.txt"),
    ("re\u202eport\x07\x00.txt", "report.txt"),
    ("  ..hidden.txt", "hidden.txt"),
    ("zero\u200bwidth.txt", "zerowidth.txt"),
    ("new\nline.txt", "new line.txt"),
    ("\u3164\u034fsecret\u115f.txt", "secret.txt"),
    ("", "file.txt"),
]


@pytest.mark.parametrize(("sent", "shown"), NAMES)
def test_paths_and_control_characters_leave_the_name(client, chat_of, sent, shown):
    chat, visitor = chat_of
    from urllib.parse import quote

    response = upload(client, chat, visitor, b"hello\n", quote(sent, safe=""))
    assert response.status_code == 201, response.content
    attachment = Attachment.objects.get()
    assert attachment.name == shown and response.json()["message"]["attachment"]["name"] == shown
    assert attachment.storage_key.startswith("attachments/") and shown not in attachment.storage_key


def test_twins_differing_in_case_or_unicode_form_are_two_files(client, chat_of):
    chat, visitor = chat_of
    from urllib.parse import quote

    nfc, nfd = unicodedata.normalize("NFC", "Résumé.txt"), unicodedata.normalize("NFD", "Résumé.txt")
    for i, (name, body) in enumerate([(nfc, b"one\n"), (nfd, b"two\n"), ("résumé.TXT", b"three\n")]):
        assert upload(client, chat, visitor, body, quote(name), client_id=f"t{i}").status_code == 201
    files = list(Attachment.objects.order_by("pk"))
    assert [f.name for f in files] == [nfc, nfc, "résumé.TXT"]
    assert len({f.storage_key for f in files}) == 3
    served = [body_of(client.get(f"/files/{f.ref}/", headers={"X-Visitor-Token": visitor.token})) for f in files]
    assert served == [b"one\n", b"two\n", b"three\n"]


# --- Sent twice ----------------------------------------------------------------------------------------


def test_an_upload_sent_again_is_stored_once(client, chat_of):
    chat, visitor = chat_of
    before = stored_files()
    first = upload(client, chat, visitor, png(), "a.png", client_id="same")
    again = upload(client, chat, visitor, png(), "a.png", client_id="same")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] is True
    assert again.json()["message"]["seq"] == first.json()["message"]["seq"]
    assert again.json()["message"]["attachment"]["ref"] == first.json()["message"]["attachment"]["ref"]
    assert Attachment.objects.count() == 1 and len(stored_files() - before) == 2  # the image and its thumbnail


def test_two_uploads_of_one_client_id_at_once_store_one(chat_of):
    chat, visitor = chat_of
    before = stored_files()
    barrier, answers = threading.Barrier(2), []

    def send():
        barrier.wait()
        answers.append(upload(Client(), chat, visitor, png(size=(900, 900)), "race.png", client_id="race"))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 201]
    assert {a.json()["message"]["seq"] for a in answers} == {2}
    assert Attachment.objects.count() == 1 and Message.objects.filter(chat=chat).count() == 2
    assert len(stored_files() - before) == 2, "the loser's bytes were removed"


# --- Who may send ---------------------------------------------------------------------------------------


def test_only_the_chats_own_visitor_and_its_agent_may_send(client, chat_of):
    chat, visitor = chat_of
    stranger = VisitorFactory()
    assert upload(client, chat, stranger, png(), "a.png").status_code == 404
    response = client.post(f"/chat/{chat.public_id}/uploads/", data=png(), content_type="image/png",
                           headers={"X-Client-Id": "x", "X-File-Name": "a.png"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    agent = AgentFactory()
    agent_client = Client(enforce_csrf_checks=True)
    agent_client.force_login(agent)
    agent_client.get("/console/")
    csrf = agent_client.cookies["csrftoken"].value

    def agent_upload(**headers):
        return agent_client.post(f"/console/chats/{chat.public_id}/uploads/", data=png(), content_type="image/png",
                                 headers={"X-Client-Id": "agent-1", "X-File-Name": "a.png", **headers})

    assert agent_upload().status_code == 403, "no CSRF token"
    refused = agent_upload(X_CSRFToken=csrf)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    services.chat_accept(chat_public_id=chat.public_id, agent=agent)
    sent = agent_upload(X_CSRFToken=csrf)
    assert sent.status_code == 201, sent.content
    assert sent.json()["message"]["author"] == "agent"
    services.chat_end(chat_public_id=chat.public_id, actor=services.Actor.for_visitor(visitor.pk))
    ended = upload(client, chat, visitor, png(), "late.png", client_id="late")
    assert ended.status_code == 409 and ended.json()["error"]["code"] == "chat_ended"


def test_files_per_chat_are_rate_limited(client, chat_of, settings):
    chat, visitor = chat_of
    settings.RATE_LIMITS = {"upload.chat": (2, 60)}
    for i in range(2):
        assert upload(client, chat, visitor, b"x\n", "a.txt", client_id=f"r{i}").status_code == 201
    refused = upload(client, chat, visitor, b"x\n", "a.txt", client_id="r2")
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "rate_limited" and Attachment.objects.count() == 2


# --- Who may read ------------------------------------------------------------------------------------------


def test_who_may_read_a_file(client, chat_of):
    chat, visitor = chat_of
    ref = upload(client, chat, visitor, PDF, "invoice.pdf").json()["message"]["attachment"]["ref"]
    url = f"/files/{ref}/"
    assert client.get(url, headers={"X-Visitor-Token": visitor.token}).status_code == 200
    assert client.get(url, headers={"X-Visitor-Token": VisitorFactory().token}).status_code == 404
    assert client.get(url, headers={"X-Visitor-Token": "not-a-token-of-anyone-at-all"}).status_code == 404
    anonymous = client.get(url)
    assert anonymous.status_code == 403 and b"Sign in" in anonymous.content
    assert client.get(f"/files/{ref}/?t=made-up").status_code == 403
    other_user = Client()
    other_user.force_login(UserFactory())
    assert other_user.get(url).status_code == 403, "signed in, but not an agent"
    agent = Client()
    agent.force_login(AgentFactory())
    assert agent.get(url).status_code == 200
    assert agent.get("/files/no-such-file/").status_code == 404

    good = links.attachment_link_token(ref, "sam@example.com")
    assert client.get(f"{url}?t={good}").status_code == 200
    expired = links.attachment_link_token(ref, "sam@example.com", at=time.time() - links.max_age_seconds() - 60)
    answer = client.get(f"{url}?t={expired}")
    assert answer.status_code == 403 and b"This link has expired" in answer.content
    other = upload(client, chat, visitor, b"x\n", "other.txt", client_id="f2").json()["message"]["attachment"]["ref"]
    assert client.get(f"/files/{other}/?t={good}").status_code == 403, "a link opens its own file only"


# --- The admin ------------------------------------------------------------------------------------------


def test_the_admin_sets_the_limits_and_deleting_a_file_removes_its_bytes(client, chat_of):
    chat, visitor = chat_of
    from .factories import UserFactory as Users

    admin = Users(is_staff=True, is_superuser=True)
    staff = Client()
    staff.force_login(admin)
    page = staff.get("/admin/chat/chatsettings/", follow=True)  # the list makes the row and opens it
    assert page.status_code == 200 and b'value="pdf"' in page.content
    saved = staff.post("/admin/chat/chatsettings/1/change/", {
        "typing_preview": "on", "visitor_gone_minutes": 10, "upload_max_mb": 5, "upload_types": ["png", "pdf"]})
    assert saved.status_code == 302, saved.content
    row = ChatSettings.objects.get()
    assert (row.upload_max_mb, row.upload_types) == (5, "png,pdf")
    assert upload(client, chat, visitor, b"text\n", "a.txt").status_code == 415
    widget = client.get("/widget/")
    assert b'data-upload-max-bytes="5242880"' in widget.content and b'data-upload-accept=".png,.pdf"' in widget.content

    before = stored_files()
    ref = upload(client, chat, visitor, png(), "a.png", client_id="f2").json()["message"]["attachment"]["ref"]
    assert len(stored_files() - before) == 2
    attachment = Attachment.objects.get(ref=ref)
    assert staff.post(f"/admin/chat/attachment/{attachment.pk}/delete/", {"post": "yes"}).status_code == 302
    assert stored_files() == before and not Attachment.objects.exists()
    assert Message.objects.get(chat=chat, seq=2).attachment is None


def test_the_database_away_is_unavailable_and_nothing_is_kept(client, chat_of, monkeypatch):
    """A call that fails on a lost connection, also on calls.db's retry, says "send it again"."""
    from django.db import OperationalError

    from chat.attachments import views

    chat, visitor = chat_of
    before = stored_files()

    def database_gone(**kwargs):
        raise OperationalError("the connection was lost")

    monkeypatch.setattr(views, "attachment_precheck", database_gone)
    response = upload(client, chat, visitor, png(), "a.png")
    assert response.status_code == 503 and response.json()["error"]["code"] == "unavailable"
    assert int(response["Retry-After"]) == views.UNAVAILABLE_RETRY_SECONDS
    assert stored_files() == before and not Attachment.objects.exists()


def test_a_photo_with_more_pictures_in_it_is_its_first(client, chat_of):
    """MPO: the JPEG some cameras write, with previews or a second eye in it."""
    chat, visitor = chat_of
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), "orange").save(buffer, "MPO", save_all=True,
                                             append_images=[Image.new("RGB", (80, 60), "black")])
    response = upload(client, chat, visitor, buffer.getvalue(), "camera.jpg")
    assert response.status_code == 201, response.content
    stored = Image.open(io.BytesIO(read_stored(Attachment.objects.get())))
    assert stored.format == "JPEG" and getattr(stored, "n_frames", 1) == 1 and stored.size == (80, 60)


def test_sixteen_bit_grey_keeps_its_shades(client, chat_of):
    chat, visitor = chat_of
    gradient = Image.new("I;16", (256, 4))
    gradient.putdata([x * 257 for x in range(256)] * 4)
    buffer = io.BytesIO()
    gradient.save(buffer, "PNG")
    assert upload(client, chat, visitor, buffer.getvalue(), "scan.png").status_code == 201
    stored = Image.open(io.BytesIO(read_stored(Attachment.objects.get())))
    assert stored.mode == "L" and [stored.getpixel((x, 0)) for x in (0, 128, 255)] == [0, 128, 255]


def test_an_odt_and_a_zip_are_told_apart_without_decompressing(client, chat_of):
    chat, visitor = chat_of
    odt = upload(client, chat, visitor, zip_with(b"application/vnd.oasis.opendocument.text", zipfile.ZIP_STORED),
                 "letter.odt")
    assert odt.status_code == 201 and odt.json()["message"]["attachment"]["type"] == (
        "application/vnd.oasis.opendocument.text")
    archive = upload(client, chat, visitor, zip_with(b"application/vnd.oasis.opendocument.text", zipfile.ZIP_BZIP2),
                     "letter.zip", client_id="f2")
    assert archive.status_code == 201 and archive.json()["message"]["attachment"]["type"] == "application/zip"


def test_when_every_image_turn_is_taken_the_upload_is_told_to_come_again(client, chat_of, monkeypatch):
    from chat.attachments import images

    chat, visitor = chat_of
    monkeypatch.setattr(images, "REENCODE_WAIT_SECONDS", 0.05)
    taken = [images._turns.acquire() for _ in range(images.REENCODES_AT_ONCE)]
    try:
        before = stored_files()
        busy = upload(client, chat, visitor, png(), "a.png")
    finally:
        for _ in taken:
            images._turns.release()
    assert busy.status_code == 503 and busy.json()["error"]["code"] == "unavailable"
    assert int(busy["Retry-After"]) >= 1 and stored_files() == before
    assert upload(client, chat, visitor, png(), "a.png").status_code == 201, "the same upload, again"


@pytest.mark.parametrize("path", ["/chat/%00/uploads/", "/files/%00/", "/files/a%2Fb/", "/chat/../uploads/"])
def test_odd_paths_are_not_found(client, path):
    assert client.post(path, data=b"x", content_type="text/plain").status_code == 404
    assert client.get(path).status_code == 404


def test_refusals_are_private_and_head_is_answered(client, chat_of):
    chat, visitor = chat_of
    ref = upload(client, chat, visitor, b"hi\n", "a.txt").json()["message"]["attachment"]["ref"]
    refused = client.get(f"/files/{ref}/")
    assert refused.status_code == 403 and refused["Cache-Control"] == "private, no-store"
    assert "X-Visitor-Token" in refused["Vary"]
    head = client.head(f"/files/{ref}/", headers={"X-Visitor-Token": visitor.token})
    assert head.status_code == 200 and head["Content-Length"] == "3"
