"""The fake ComfyUI's `input/`, `output/` and `temp/` folders, kept in memory, and its PNGs.

Behaves like ComfyUI's `server.py` (`/upload/image`, `/view`) and `folder_paths.py`
(`get_save_image_path`, annotated names such as `photo.png [input]`), see
https://github.com/comfyanonymous/ComfyUI/blob/master/server.py. Pictures are real PNGs made
with Pillow; their colour depends only on the seed and prompt text (`colour_for`), so a test
can tell which inputs produced a downloaded file.
"""

from __future__ import annotations

import hashlib
import io
import json
import mimetypes
import posixpath
import re
from dataclasses import dataclass, field

from PIL import Image
from PIL.PngImagePlugin import PngInfo

FOLDER_TYPES = ("input", "output", "temp")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")
_ANNOTATION = re.compile(r"^(?P<name>.*) \[(?P<type>input|output|temp)\]$")


class PathRejected(ValueError):
    """A name or subfolder that would leave its folder (ComfyUI answers 400 or 403)."""


def colour_for(seed: int, text: str) -> tuple[int, int, int]:
    """The RGB colour the fake paints for a sampler `seed` and positive prompt `text`."""
    digest = hashlib.sha256(f"{seed}|{text}".encode()).digest()
    return digest[0], digest[1], digest[2]


def png_bytes(image: Image.Image, text_chunks: dict[str, str] | None = None) -> bytes:
    info = PngInfo()
    for key, value in (text_chunks or {}).items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, compress_level=1)
    return buffer.getvalue()


def solid_png(width: int, height: int, colour: tuple[int, int, int] | str = "red") -> bytes:
    """A small PNG for tests to upload."""
    return png_bytes(Image.new("RGB", (width, height), colour))


def split_annotation(name: str) -> tuple[str, str | None]:
    """`"a.png [input]"` -> `("a.png", "input")`, as `folder_paths.annotated_filepath` does."""
    match = _ANNOTATION.match(name)
    if match is None:
        return name, None
    return match["name"], match["type"]


def _clean_subfolder(subfolder: str) -> str:
    norm = posixpath.normpath(subfolder.replace("\\", "/")) if subfolder else ""
    if norm in ("", "."):
        return ""
    if norm.startswith("/") or norm == ".." or norm.startswith("../"):
        raise PathRejected(subfolder)
    return norm


@dataclass
class StoredFile:
    data: bytes
    content_type: str


@dataclass
class UploadResult:
    name: str
    subfolder: str
    type: str
    duplicate: bool


@dataclass
class FileStore:
    """Files by (folder type, subfolder, filename); kept across a fake restart by default."""

    files: dict[tuple[str, str, str], StoredFile] = field(default_factory=dict)

    def put(self, folder: str, subfolder: str, filename: str, data: bytes) -> None:
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        self.files[(folder, _clean_subfolder(subfolder), filename)] = StoredFile(
            data, content_type
        )

    def get(self, folder: str, subfolder: str, filename: str) -> StoredFile | None:
        try:
            key = (folder, _clean_subfolder(subfolder), filename)
        except PathRejected:
            return None
        return self.files.get(key)

    def exists_annotated(self, name: str, default_folder: str = "input") -> bool:
        """Whether a LoadImage-style value (`sub/name.png`, `name.png [output]`) names a file."""
        plain, folder = split_annotation(name)
        subfolder, _, filename = plain.rpartition("/")
        return self.get(folder or default_folder, subfolder, filename) is not None

    def read_annotated(self, name: str, default_folder: str = "input") -> bytes:
        plain, folder = split_annotation(name)
        subfolder, _, filename = plain.rpartition("/")
        stored = self.get(folder or default_folder, subfolder, filename)
        if stored is None:
            raise FileNotFoundError(name)
        return stored.data

    def listing(self, folder: str) -> list[str]:
        """Top-level image files of a folder, sorted: what LoadImage offers as its combo."""
        return sorted(
            name
            for (kind, sub, name) in self.files
            if kind == folder and sub == "" and name.lower().endswith(IMAGE_EXTENSIONS)
        )

    def upload(
        self, folder: str, subfolder: str, filename: str, data: bytes, overwrite: bool
    ) -> UploadResult:
        """`/upload/image`: without overwrite a same-named different file gets ` (1)` etc.;
        identical bytes under the same name are reused, not stored twice."""
        if not filename or "/" in filename or "\\" in filename or filename in (".", ".."):
            raise PathRejected(filename)
        subfolder = _clean_subfolder(subfolder)
        stem, ext = posixpath.splitext(filename)
        name, duplicate, i = filename, False, 1
        while not overwrite and (existing := self.get(folder, subfolder, name)) is not None:
            if existing.data == data:
                duplicate = True
                break
            name = f"{stem} ({i}){ext}"
            i += 1
        if not duplicate:
            self.put(folder, subfolder, name, data)
        return UploadResult(name, subfolder, folder, duplicate)

    def next_counter(self, folder: str, subfolder: str, prefix: str) -> int:
        """`get_save_image_path`: one more than the highest `{prefix}_{NNNNN}_` already saved."""
        highest = 0
        for kind, sub, name in self.files:
            if kind != folder or sub != subfolder or not name.startswith(prefix + "_"):
                continue
            digits = name[len(prefix) + 1 :].split("_")[0]
            if digits.isdigit():
                highest = max(highest, int(digits))
        return highest + 1

    def save_images(
        self,
        folder: str,
        filename_prefix: str,
        images: list[Image.Image],
        graph: dict[str, object] | None,
    ) -> list[dict[str, str]]:
        """SaveImage/PreviewImage: `{prefix}_{counter:05}_.png`; a prefix may name a subfolder."""
        norm = posixpath.normpath(filename_prefix.replace("\\", "/"))
        subfolder, _, prefix = norm.rpartition("/")
        subfolder = _clean_subfolder(subfolder)
        counter = self.next_counter(folder, subfolder, prefix)
        chunks = {} if graph is None else {"prompt": json.dumps(graph)}
        results = []
        for batch_number, image in enumerate(images):
            name = f"{prefix.replace('%batch_num%', str(batch_number))}_{counter:05}_.png"
            self.put(folder, subfolder, name, png_bytes(image, chunks))
            results.append({"filename": name, "subfolder": subfolder, "type": folder})
            counter += 1
        return results
