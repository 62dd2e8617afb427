"""What /predict and /jobs share: the streamed upload and the options that shape an answer."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request

from api.deps import Service
from api.errors import InvalidRequest
from api.options import PredictOptions
from api.uploads import Upload, receive_upload
from settings import Settings

FIELD = "file"

# The body is parsed by api.uploads as it streams, so FastAPI cannot infer it from the
# signature; describe it here so /docs shows the upload form.
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {
                        FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "A video (MP4, WebM, MOV, AVI, ...) or an image "
                            "(JPEG, PNG, WebP, BMP)",
                        }
                    },
                }
            }
        },
    }
}


def predict_options(
    service: Service,
    fps: Annotated[
        float | None, Query(gt=0, le=120, description="Frames sampled per second (DEFAULT_FPS)")
    ] = None,
    max_frames: Annotated[
        int | None, Query(ge=1, description="Cap on sampled frames, at most MAX_FRAMES")
    ] = None,
    operating_point: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Za-z0-9_.-]{1,40}$",
            description="A threshold from the model card by name, e.g. fpr1 (1% false positives "
            "on validation)",
        ),
    ] = None,
    include: Annotated[
        Literal["crops"] | None,
        Query(description="'crops' adds each scored 64x64 face crop as a base64 JPEG"),
    ] = None,
) -> PredictOptions:
    settings = service.settings
    if max_frames is not None and max_frames > settings.MAX_FRAMES:
        raise InvalidRequest(
            f"max_frames={max_frames} is above this server's MAX_FRAMES={settings.MAX_FRAMES}."
        )
    return PredictOptions(
        fps=fps or settings.DEFAULT_FPS,
        max_frames=max_frames or settings.MAX_FRAMES,
        operating_point=operating_point,
        include_crops=include == "crops",
    )


Options = Annotated[PredictOptions, Depends(predict_options)]


def streamed_upload(request: Request, settings: Settings) -> AbstractAsyncContextManager[Upload]:
    """The `file` field of the request body, streamed to a temp file (removed on exit)."""
    length = request.headers.get("content-length")
    return receive_upload(
        request.stream(),
        content_type=request.headers.get("content-type"),
        content_length=int(length) if length and length.isdigit() else None,
        field=FIELD,
        max_bytes=settings.MAX_UPLOAD_BYTES,
        directory=settings.UPLOAD_DIR,
    )
