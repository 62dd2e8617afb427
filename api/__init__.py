"""Deepfake-detection gateway: FastAPI in front of TensorFlow Serving or an in-process model.

Layers, top to bottom; a module imports only from layers below its own (import-linter checks it,
see pyproject.toml):
- `api.server` (the one entry point: uvicorn and its flags) -> `api.main` (app factory,
  lifespan) -> `api.routes` (thin handlers) -> `api.deps`, `api.middleware`
- `api.jobs`, `api.readiness`, `api.scan` (the command line) -> `api.service` (one prediction)
- `api.answer`, `api.scoring`, `api.uploads` -> `api.schemas`, `api.thresholds`, `api.backends`...
- `api.pipeline` (plain functions over files and arrays) -> `api.contract` (what a model and the
  gateway agree on), `api.errors`, `api.options`, and `settings`.
Nothing in `api` imports `training` or `bench`.
"""

__version__ = "0.1.0"
