# The pipeline image that terraform/ runs on ECS: code server (the default command), webserver,
# daemon, every run and step task, and the MLflow server. Build from the repository root:
#   docker build -t fraudshield .
FROM python:3.11-slim-bookworm

COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PYTHONUNBUFFERED=1

WORKDIR /app
# The locked dependencies first (a layer that changes only with uv.lock), then the package.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY fraudshield_pipeline ./fraudshield_pipeline
RUN uv sync --frozen --no-dev --no-editable

# Not root. ECS mounts the root filesystem read-only; everything writable lives under /tmp.
RUN useradd --system --uid 10001 --no-create-home --home-dir /tmp fraudshield
USER 10001
ENV PATH=/app/.venv/bin:$PATH \
    HOME=/tmp \
    DAGSTER_HOME=/tmp/dagster_home \
    FRAUDSHIELD_DATA_DIR=/tmp/fraudshield

EXPOSE 3000 4000 5000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "fraudshield_pipeline.definitions", "--location-name", "fraudshield_pipeline"]
