"""The detection pipeline: plain functions over files and numpy arrays, no HTTP in sight.

sniff (the type from the bytes) -> decode (sample frames) -> finder/faces (detect, crop) ->
extract (the samples of one file) -> tracks -> verdict. May import `api.contract`, `api.errors`
and `settings`; never FastAPI, httpx, `api.backends` or `api.service` (import-linter checks it).
The training code cuts its crops with these same functions.
"""
