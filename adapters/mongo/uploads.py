"""`UploadStore` on MongoDB: the upload's description in `uploads`, its bytes in 1 MB chunks in
`upload_chunks` (a document holds at most 16 MiB; chunks as GridFS keeps files,
https://www.mongodb.com/docs/manual/core/gridfs/), so every
bot process sharing the database can read an upload whichever took it. Both expire together
through TTL indexes. The description is written last: an upload is readable only once whole."""

from __future__ import annotations

from adapters.mongo.cursor_reads import read_all
from adapters.mongo.database import UPLOAD_CHUNKS, UPLOADS, Collection, Database, Document
from core.uploads import Upload

CHUNK_BYTES = 1_000_000


class MongoUploadStore:
    def __init__(self, db: Database) -> None:
        self._uploads: Collection = db[UPLOADS]
        self._chunks: Collection = db[UPLOAD_CHUNKS]

    async def save(self, upload: Upload, data: bytes) -> None:
        chunks = [
            {
                "_id": f"{upload.id}:{n:05d}",
                "upload": upload.id,
                "n": n,
                "data": data[start : start + CHUNK_BYTES],
                "expires_at": upload.expires_at,
            }
            for n, start in enumerate(range(0, max(len(data), 1), CHUNK_BYTES))
        ]
        await self._chunks.insert_many(chunks, ordered=True)
        doc = upload.model_dump(mode="python", exclude={"id"})
        await self._uploads.insert_one({"_id": upload.id, **doc})

    async def get(self, upload_id: str) -> Upload | None:
        doc = await self._uploads.find_one({"_id": upload_id})
        return None if doc is None else _upload(doc)

    async def data(self, upload_id: str) -> bytes | None:
        upload = await self.get(upload_id)
        if upload is None:
            return None
        cursor = self._chunks.find({"upload": upload_id}).sort([("n", 1)])
        data = b"".join([bytes(doc["data"]) for doc in await read_all(cursor)])
        return data if len(data) == upload.size else None


def _upload(doc: Document) -> Upload:
    fields = {name: value for name, value in doc.items() if name in Upload.model_fields}
    return Upload.model_validate({**fields, "id": doc["_id"]})
