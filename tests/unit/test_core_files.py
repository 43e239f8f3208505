"""User images accepted by their bytes (not their names), size limits, safe file names."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from adapters.telegram.wording import SYNTAX
from core.backends import BackendRegistry
from core.chat.text_render import TextRenderer
from core.errors import FileRejected, UserFacingError
from core.files import FileManager, safe_filename, sniff_image
from tests.fakes.backend import MemoryBackend

WORDS = TextRenderer(SYNTAX)


def shown(error: FileRejected) -> str:
    """What the user reads for a rejected file."""
    return WORDS.notice(error.notice)


def image_bytes(fmt: str, size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(buffer, format=fmt)
    return buffer.getvalue()


def files(tmp_path: Path, max_input_bytes: int = 20_000_000) -> FileManager:
    return FileManager(
        BackendRegistry([MemoryBackend()]),
        tmp_path,
        max_input_bytes=max_input_bytes,
        max_output_bytes=10_000_000,
        fetch_timeout_s=5,
    )


@pytest.mark.parametrize(
    ("fmt", "mime", "ext"),
    [
        ("PNG", "image/png", "png"),
        ("JPEG", "image/jpeg", "jpg"),
        ("GIF", "image/gif", "gif"),
        ("WEBP", "image/webp", "webp"),
    ],
)
def test_sniff_recognises_real_images(fmt: str, mime: str, ext: str) -> None:
    assert sniff_image(image_bytes(fmt)) == (mime, ext)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is just text\n",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
        b"\x00\x00\x00\x00\x00\x00\x00\x00WEBP",
        b"\x89PN",
    ],
    ids=["empty", "text", "pdf", "wav", "webp-without-riff", "truncated-png"],
)
def test_sniff_rejects_what_is_not_an_accepted_image(data: bytes) -> None:
    assert sniff_image(data) is None


def test_an_image_is_named_by_its_content_not_its_claimed_extension(tmp_path: Path) -> None:
    jpeg = image_bytes("JPEG")
    upload = files(tmp_path).check_image(jpeg, "holiday photo.png")

    assert (upload.filename, upload.mime) == ("holiday_photo.jpg", "image/jpeg")
    assert upload.data == jpeg


def test_an_image_without_a_name_gets_a_default_one(tmp_path: Path) -> None:
    assert files(tmp_path).check_image(image_bytes("PNG")).filename == "input.png"


@pytest.mark.parametrize(
    "data",
    [b"just some text, honestly", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"],
    ids=["text", "pdf"],
)
def test_text_or_pdf_named_png_is_rejected_with_the_accepted_types(
    tmp_path: Path, data: bytes
) -> None:
    with pytest.raises(FileRejected) as caught:
        files(tmp_path).check_image(data, "cat.png")

    assert isinstance(caught.value, UserFacingError)
    message = shown(caught.value)
    assert "not an image" in message
    for kind in ("PNG", "JPEG", "WebP", "GIF"):
        assert kind in message


def test_too_large_image_is_rejected_with_the_limit_in_mb(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as caught:
        files(tmp_path, max_input_bytes=20_000_000).check_image(
            b"\x89PNG\r\n\x1a\n" + bytes(20_000_000)
        )

    assert shown(caught.value) == "That image is too large: at most 20 MB."


def test_size_is_checked_before_type(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as caught:
        files(tmp_path, max_input_bytes=10).check_image(b"not an image at all")
    assert "too large" in shown(caught.value)


def test_an_image_exactly_at_the_limit_is_accepted(tmp_path: Path) -> None:
    png = image_bytes("PNG")
    assert files(tmp_path, max_input_bytes=len(png)).check_image(png).data == png


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("photo.png", "photo.png"),
        ("my photo (1).jpg", "my_photo__1_.jpg"),
        ("../../etc/passwd", "passwd"),
        ("/abs/path/out.webp", "out.webp"),
        (".hidden", "hidden"),
        ("...", "fallback"),
        ("", "fallback"),
        ("фото.png", "____.png"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name, "fallback") == expected


def test_safe_filename_is_at_most_120_characters() -> None:
    name = safe_filename("a" * 200 + ".png", "fallback")
    assert 0 < len(name) <= 120
    assert set(name) <= set("a.png")
