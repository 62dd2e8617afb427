"""POST /predict: upload a video, get P(fake) for the faces in it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from api.deps import Authenticated, Service
from api.errors import InvalidRequest
from api.middleware import context_of
from api.schemas import ErrorResponse, PredictResponse
from api.uploads import receive_upload

router = APIRouter(tags=["predict"])

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

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        400: "Empty file or malformed multipart body",
        401: "Missing or wrong bearer token (when REQUIRE_AUTH is on)",
        413: "Upload larger than MAX_UPLOAD_BYTES",
        415: "Not a decodable video or image",
        422: "Invalid parameters (e.g. an unknown operating_point) or missing file field",
        502: "The model server failed or answered nonsense",
        503: "The gateway is busy, or the model server is unreachable, loading or overloaded",
        504: "The model server did not answer within REQUEST_TIMEOUT",
    }.items()
}


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses=ERRORS,
    openapi_extra=UPLOAD_BODY,
    dependencies=[Authenticated],
    summary="Score the faces in a video or an image",
)
async def predict(
    request: Request,
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
) -> PredictResponse:
    settings = service.settings
    if max_frames is not None and max_frames > settings.MAX_FRAMES:
        raise InvalidRequest(
            f"max_frames={max_frames} is above this server's MAX_FRAMES={settings.MAX_FRAMES}."
        )
    length = request.headers.get("content-length")
    context = context_of(request.scope)
    log_fields = context.fields if context else {}
    # Admission first: a refused request costs no upload, no disk and no decoding.
    with service.admission.admit():
        async with receive_upload(
            request.stream(),
            content_type=request.headers.get("content-type"),
            content_length=int(length) if length and length.isdigit() else None,
            field=FIELD,
            max_bytes=settings.MAX_UPLOAD_BYTES,
            directory=settings.UPLOAD_DIR,
        ) as upload:
            log_fields["upload_bytes"] = upload.size
            return await service.predict(
                upload.path,
                fps=fps or settings.DEFAULT_FPS,
                max_frames=max_frames or settings.MAX_FRAMES,
                log_fields=log_fields,
                operating_point=operating_point,
                include_crops=include == "crops",
            )
