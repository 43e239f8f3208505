"""`POST /uploads`: an image for a later run, as `multipart/form-data` with a `file` part
(https://www.rfc-editor.org/rfc/rfc7578). It is read up to MAX_INPUT_IMAGE_MB and no further,
its type is taken from its bytes by Pillow (PNG, JPEG, WebP or GIF, as Pillow identifies them:
https://pillow.readthedocs.io/en/stable/handbook/image-file-formats.html; whatever name or
Content-Type it came with), it is checked whole (`Image.verify`), and an image of more pixels
than Pillow's `MAX_IMAGE_PIXELS` (a decompression bomb) is refused. The answer is the upload's
id, to pass as an image input's value."""

from __future__ import annotations

import io
import warnings

from aiohttp import BodyPartReader, web
from PIL import Image, UnidentifiedImageError

from adapters.api.auth import KeyRing
from adapters.api.bodies import language
from adapters.api.config import ApiConfig
from adapters.api.errors import ApiError, ProblemView, api_handler, json_response
from core.chat.text_render import TextRenderer
from core.files import safe_filename
from core.ports import Clock
from core.uploads import Upload, UploadStore, new_upload_id

FIELD = "file"
FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}
CHUNK = 64 * 1024
MULTIPART_SLACK = 64 * 1024
"""What a multipart body may hold beyond the file itself (boundaries, headers, other fields)."""


class UploadRoutes:
    def __init__(
        self,
        keys: KeyRing,
        store: UploadStore,
        words: TextRenderer,
        clock: Clock,
        config: ApiConfig,
    ) -> None:
        self._keys = keys
        self._store = store
        self._words = words
        self._clock = clock
        self._config = config

    def routes(self, prefix: str) -> list[web.RouteDef]:
        return [web.post(f"{prefix}/uploads", api_handler(self.upload))]

    async def upload(self, request: web.Request) -> web.StreamResponse:
        key = await self._keys.caller(request.headers.get("Authorization"))
        words = self._words.for_language(language(request))
        limit = self._config.max_upload_bytes
        if request.content_type != "multipart/form-data":
            raise ApiError(415, "unsupported_media_type", "Send multipart/form-data.")
        length = request.content_length
        if length is not None and length > limit + MULTIPART_SLACK:
            raise self._too_large(words)
        part = await _file_part(request)
        data = await _read(part, limit)
        if data is None:
            raise self._too_large(words)
        kind = _sniff(data)
        if kind is None:
            message = words.text("input.not_an_image")
            raise ApiError(422, "input.not_an_image", message, [ProblemView(FIELD, message)])
        image_format, width, height = kind
        ext = FORMATS[image_format]
        stem = safe_filename(part.filename or "", "upload").rsplit(".", 1)[0] or "upload"
        now = self._clock.now()
        upload = Upload(
            id=new_upload_id(),
            owner=key.user_key,
            filename=f"{stem}.{ext}",
            mime=Image.MIME[image_format],
            size=len(data),
            width=width,
            height=height,
            created_at=now,
            expires_at=now + self._config.upload_ttl,
        )
        await self._store.save(upload, data)
        body = upload.model_dump(mode="json", exclude={"owner"})
        return json_response(body, 201)

    def _too_large(self, words: TextRenderer) -> ApiError:
        limit_mb = f"{self._config.max_upload_bytes / 1_000_000:g}"
        message = words.text("input.image_too_large", limit_mb=limit_mb)
        return ApiError(413, "input.image_too_large", message, [ProblemView(FIELD, message)])


async def _file_part(request: web.Request) -> BodyPartReader:
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            break
        if isinstance(part, BodyPartReader) and part.name == FIELD:
            return part
        if isinstance(part, BodyPartReader):
            await part.release()
    message = f"The form has no '{FIELD}' part."
    raise ApiError(400, "no_file", message, [ProblemView(FIELD, message)])


async def _read(part: BodyPartReader, limit: int) -> bytes | None:
    """The part's bytes, or None once it grows past `limit`."""
    data = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


def _sniff(data: bytes) -> tuple[str, int, int] | None:
    """(Pillow format, width, height) of an accepted, intact image; None otherwise."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format = image.format or ""
                size = image.size
                image.verify()
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ):
        return None
    if image_format not in FORMATS:
        return None
    return image_format, size[0], size[1]
