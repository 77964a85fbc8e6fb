# syntax=docker/dockerfile:1
# Production image. One image, three roles: the default command serves HTTP + websockets with
# Daphne; docker-compose.yml (and the Procfile) run the same image as Celery worker and beat.
#
#   docker build -t doorstep .
#   docker run -e DJANGO_SECRET_KEY=... -e DATABASE_URL=... -e REDIS_URL=... -p 8000:8000 doorstep

# --- 1. Front-end libraries (leaflet, htmx, chart.js) from npm into static/vendor ----------
FROM node:20-bookworm-slim AS static
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts/build_static.sh scripts/
RUN sh scripts/build_static.sh

# --- 2. Python dependencies from uv.lock, the code, and the collected static files ---------
FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir --root-user-action=ignore uv
WORKDIR /app
# Dependencies first: this layer is reused until pyproject.toml / uv.lock change.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
COPY --from=static /src/static/vendor static/vendor
# collectstatic only reads settings; the key below exists to satisfy the production settings'
# check and is never used at runtime (the container gets DJANGO_SECRET_KEY from its env).
RUN DJANGO_SETTINGS_MODULE=config.settings.production \
    DJANGO_SECRET_KEY=collectstatic-build-step-only-not-used-at-runtime \
    .venv/bin/python manage.py collectstatic --noinput

# --- 3. Runtime: no compilers, no node, not root ---------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH="/app/.venv/bin:$PATH" \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    DOORSTEP_MEDIA_ROOT=/data/media \
    PORT=8000
RUN groupadd --system --gid 10001 doorstep \
    && useradd --system --uid 10001 --gid doorstep --home-dir /app --no-create-home doorstep \
    && mkdir -p /data/media \
    && chown doorstep:doorstep /data/media
WORKDIR /app
# The code stays owned by root (read-only for the app); only /data/media (uploaded proof-of-
# delivery photos, report files; a volume in production) and /tmp are writable.
COPY --from=build /app /app
USER doorstep
EXPOSE 8000
VOLUME ["/data/media"]
CMD ["sh", "-c", "exec python scripts/serve.py --host 0.0.0.0 --port \"${PORT:-8000}\""]
