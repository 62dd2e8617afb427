# The gateway image: FastAPI + OpenCV, talking to TF Serving. Only the main Poetry group: no
# TensorFlow, no LiteRT, no training code, so the image stays small; models/ (artefacts only) is
# mounted at run time for the model cards. Expected size ~480 MB: python:3.11-slim ~130 MB plus the main dependencies
# ~350 MB as installed (measured in .venv): opencv-python-headless 162 MB, numpy 72 MB,
# c2pa-python 53 MB (provenance), PyWavelets 9 MB, the rest (FastAPI, uvicorn[standard], httpx,
# pydantic, orjson, prometheus-client, Pillow, SAQ, redis) ~55 MB. With
# TensorFlow it would be ~2 GB more (tensorflow 1.9 GB installed, plus keras and friends).

FROM python:3.11-slim AS deps
ENV POETRY_VIRTUALENVS_IN_PROJECT=true POETRY_NO_INTERACTION=1 PIP_NO_CACHE_DIR=1
RUN pip install "poetry>=2,<3"
WORKDIR /app
# Dependencies first, from the lock file only: this layer is rebuilt when they change, not
# when the code does.
COPY pyproject.toml poetry.lock ./
RUN poetry sync --only main --no-root && rm -rf /root/.cache

FROM python:3.11-slim
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# Listen on every interface of the container (Settings.HOST defaults to loopback). Two malloc
# arenas instead of up to 8 per core keep RSS near ~220 MB instead of climbing past 300 MB
# (bench/soak.py); glibc reads it at process start, so it is set here, not in Settings.
ENV HOST=0.0.0.0 MALLOC_ARENA_MAX=2
RUN useradd --create-home --uid 10001 gateway
# Job uploads (JOB_STORAGE_DIR in docker-compose.yml): a fresh named volume mounted here copies
# this directory's owner, so the non-root gateway and workers can write to it.
RUN install -d -o gateway -g gateway -m 0750 /var/lib/deepfake/jobs
WORKDIR /app
COPY --from=deps /app/.venv .venv
COPY settings.py ./
COPY api api
USER gateway
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4)"]
# The one entry point (api/server.py decides the server's flags from Settings). Not the
# `deepfake-serve` script: the project itself is not installed here (`--no-root`).
CMD ["python", "-m", "api.server"]
