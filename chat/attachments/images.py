"""Images are opened with Pillow, checked before a pixel is decoded, and re-encoded into a fresh
image, so that nothing of the sent file but its pixels is stored: no EXIF (GPS included), XMP, ICC
profile, PNG text chunks or JPEG comment (a plain Pillow re-save keeps the comment and the ICC
profile), and no bytes of a file that is also something else (a GIF that is also JavaScript).

The checks, each made before the pixels it is about are decoded: each side at most MAX_SIDE, each
frame at most MAX_PIXELS, and all frames together at most MAX_TOTAL_PIXELS, so that a small file
cannot make the process decode gigabytes (a decompression bomb). A GIF's frames are counted by
reading their blocks without decoding them, and each frame is checked again as it is reached: a later
frame may be larger than the canvas the header declares, and Pillow grows the canvas to fit it.

Memory: a frame being re-encoded is held about three times at 4 bytes a pixel (decoded, fresh copy,
thumbnail), ~480 MB for the largest still. ``REENCODES_AT_ONCE`` per process bounds the sum; an
upload that waits longer than ``REENCODE_WAIT_SECONDS`` for its turn is answered "busy, send again".
"""

import io
import threading
from dataclasses import dataclass

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from chat.attachments.kinds import Kind

MAX_SIDE = 16_384
MAX_PIXELS = 40_000_000  # a 40-megapixel photo
MAX_TOTAL_PIXELS = 40_000_000  # all frames of an animation together
MAX_FRAMES = 500
THUMBNAIL_SIDE = 320
JPEG_QUALITY = 90
REENCODES_AT_ONCE = 2
REENCODE_WAIT_SECONDS = 20

_PILLOW_FORMAT = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP"}
_OPEN_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError,
                UnidentifiedImageError)
# Pillow's own guard, for what a header says is past its MAX_IMAGE_PIXELS (ours are lower, and are
# checked first; this catches what reaches Pillow's at open).
_BOMBS = (Image.DecompressionBombError, Image.DecompressionBombWarning)
TOO_LARGE = (f"This image is too large: it can be at most {MAX_SIDE:,} pixels a side and {MAX_PIXELS // 1_000_000} "
             "megapixels.")
ANIMATION_TOO_LARGE = "This animation is too large: send a shorter or smaller one."

_turns = threading.BoundedSemaphore(REENCODES_AT_ONCE)


class ImageRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Busy(Exception):
    """Every re-encoding turn of this process stayed taken for REENCODE_WAIT_SECONDS."""


@dataclass(frozen=True)
class Reencoded:
    data: bytes
    width: int
    height: int
    frames: int
    thumbnail: bytes  # WebP, at most THUMBNAIL_SIDE on its longer side
    thumbnail_size: tuple[int, int]


def reencode(path: str, kind: Kind) -> Reencoded:
    """The image at ``path`` (already sniffed as ``kind``) re-encoded in its own format, oriented as
    its EXIF said, with its thumbnail. Raises ImageRefused with a reason a person can read, or Busy."""
    if not _turns.acquire(timeout=REENCODE_WAIT_SECONDS):
        raise Busy()
    try:
        return _reencode(path, kind)
    finally:
        _turns.release()


def _reencode(path: str, kind: Kind) -> Reencoded:
    pillow_format = _PILLOW_FORMAT[kind.id]
    try:
        with Image.open(path, formats=[pillow_format]) as image:
            _check_size(image)
            # A JPEG with more pictures in it (MPO, from some cameras) is its first: the others are
            # previews and depth maps nobody sent on purpose.
            frames = 1 if pillow_format == "JPEG" else _frame_count(image)
            if frames > 1:
                return _reencode_animation(image, pillow_format)
            return _reencode_still(image, pillow_format)
    except ImageRefused:
        raise
    except _BOMBS:
        raise ImageRefused(TOO_LARGE) from None
    except MemoryError:
        raise ImageRefused("This image is too large to be read.") from None
    except _OPEN_ERRORS:
        raise ImageRefused(f"This image could not be read: it is damaged, or not really {kind.label}.") from None


def _check_size(image) -> None:
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageRefused("This image has no pixels.")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageRefused(TOO_LARGE)


def _frame_count(image) -> int:
    if not getattr(image, "is_animated", False):
        return 1
    frames = image.n_frames
    if frames > MAX_FRAMES:
        raise ImageRefused(f"This animation has {frames:,} frames; at most {MAX_FRAMES:,} can be sent.")
    width, height = image.size
    if frames * width * height > MAX_TOTAL_PIXELS:
        raise ImageRefused(ANIMATION_TOO_LARGE)
    return frames


def _plain_mode(image) -> str:
    """The mode to re-encode in: grey or colour, with alpha if the image has any transparency."""
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    if image.mode in ("L", "RGB", "RGBA"):
        return image.mode
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return "L"
    return "RGBA" if has_alpha else "RGB"


def _pixels_in(image, mode: str):
    """``image`` in ``mode``. 16-bit grey is scaled to 8 bits (a plain convert clips it to white)."""
    if image.mode == mode:
        return image
    if mode == "L" and image.mode.startswith("I"):
        return image.convert("I").point(lambda value: value / 256).convert("L")
    return image.convert(mode)


def _fresh(image, mode: str):
    """A new image holding only ``image``'s pixels (in ``mode``): no info, no EXIF, no palette
    leftovers, nothing of the file it came from."""
    pixels = _pixels_in(image, mode)
    clean = Image.new(mode, pixels.size)
    clean.paste(pixels)
    return clean


def _encode(image, pillow_format: str, **options) -> bytes:
    if pillow_format == "JPEG" and image.mode not in ("L", "RGB"):
        image = _fresh(image, "RGB")
    buffer = io.BytesIO()
    if pillow_format == "JPEG":
        options.setdefault("quality", JPEG_QUALITY)
    if pillow_format == "WEBP":
        options.setdefault("quality", 90)
    image.save(buffer, pillow_format, **options)
    return buffer.getvalue()


def _thumbnail(image) -> tuple[bytes, tuple[int, int]]:
    small = image.copy()
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    return _encode(small, "WEBP", quality=80), small.size


def _reencode_still(image, pillow_format: str) -> Reencoded:
    image.load()
    oriented = ImageOps.exif_transpose(image, in_place=False) if image.getexif().get(0x0112, 1) != 1 else image
    clean = _fresh(oriented, _plain_mode(oriented))
    del oriented
    data = _encode(clean, pillow_format)
    return Reencoded(data, clean.width, clean.height, 1, *_thumbnail(clean))


def _reencode_animation(image, pillow_format: str) -> Reencoded:
    """Every frame, each checked as it is reached (before it is decoded), with its duration."""
    clean_frames, durations, pixels = [], [], 0
    for frame in ImageSequence.Iterator(image):
        _check_size(frame)  # the canvas may have grown to a later, larger frame
        pixels += frame.width * frame.height
        if pixels > MAX_TOTAL_PIXELS:
            raise ImageRefused(ANIMATION_TOO_LARGE)
        durations.append(int(frame.info.get("duration") or 100))
        clean_frames.append(_fresh(frame, "RGBA"))
    first, rest = clean_frames[0], clean_frames[1:]
    options = {"save_all": True, "append_images": rest, "duration": durations, "loop": int(image.info.get("loop", 0))}
    if pillow_format == "GIF":
        options["disposal"] = 2
    data = _encode(first, pillow_format, **options)
    return Reencoded(data, first.width, first.height, len(clean_frames), *_thumbnail(first))
