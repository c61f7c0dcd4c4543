# syntax=docker/dockerfile:1
# Slate application image: web, migrations, media worker and (with TORCH_PACKAGES) GPU worker.
#
#   docker compose build                 # builds `slate:latest` and `slate-gpu:latest`
#   docker build -t slate .              # CPU image: web, migrate, media worker
#   docker build -t slate-gpu --build-arg TORCH_PACKAGES="torch diffusers transformers accelerate" .
#
# GPU image: PyPI's Linux x86_64 `torch` wheels are CUDA builds that bring their own CUDA
# runtime, so the slim base image is enough; the host needs the NVIDIA driver and the NVIDIA
# Container Toolkit. To pin another CUDA build, add a wheel index with
# --build-arg TORCH_INDEX_URL=<PyTorch wheel index for your CUDA version>.

# --- Stage 1: front-end vendor files (htmx, its SSE extension, SortableJS) from package-lock.json
FROM node:20-slim AS vendor
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY scripts/vendor.mjs scripts/vendor.mjs
RUN npm run vendor

# --- Stage 2: the Python application
FROM python:3.11-slim AS app

# The code runs from /app, where migrations/, templates/ and static/ sit beside the packages
# (the app finds them relative to its own source), so /app comes first on the import path;
# `pip install .` provides the dependencies and the `slate` command.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    SLATE_DATA_DIR=/data \
    SLATE_MEDIA_DIR=/data/media

WORKDIR /app

# Optional heavy dependencies for the GPU worker image (empty for the CPU image).
ARG TORCH_PACKAGES=""
ARG TORCH_INDEX_URL=""
RUN if [ -n "$TORCH_PACKAGES" ]; then \
        pip install ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} $TORCH_PACKAGES; \
    fi

# Only what the application needs (no .venv/, node_modules/ or data/ from the build context).
COPY pyproject.toml README.md ./
COPY app ./app
COPY workers ./workers
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY --from=vendor /src/static/vendor ./static/vendor
RUN pip install .

# Run as an unprivileged user; /data (and the media volume mounted at /data/media) belongs to it.
RUN useradd --create-home --uid 10001 --user-group slate \
    && mkdir -p /data/media \
    && chown -R slate:slate /data
USER slate

EXPOSE 8000
CMD ["slate", "serve", "--host", "0.0.0.0", "--port", "8000"]
