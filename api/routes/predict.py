"""POST /predict: upload a video or an image, get P(fake) for the faces in it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import Authenticated, Service
from api.middleware import context_of
from api.routes.upload import UPLOAD_BODY, Options, streamed_upload
from api.schemas import ErrorResponse, PredictResponse

router = APIRouter(tags=["predict"])

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
async def predict(request: Request, service: Service, options: Options) -> PredictResponse:
    context = context_of(request.scope)
    log_fields = context.fields if context else {}
    # Admission first: a refused request costs no upload, no disk and no decoding.
    with service.admission.admit():
        async with streamed_upload(request, service.settings) as upload:
            log_fields["upload_bytes"] = upload.size
            return await service.predict(upload.path, options, log_fields=log_fields)
