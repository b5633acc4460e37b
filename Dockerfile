# One image for the user-code server, the webserver, the daemon and every run container (Docker, Kubernetes
# and ECS run launchers start runs in the user-code image).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DAGSTER_HOME=/opt/dagster/dagster_home
WORKDIR /opt/ysh
# Tesseract reads datasheets without a usable text layer (English and Portuguese).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng tesseract-ocr-por \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY ysh_assets ./ysh_assets
COPY sql ./sql
# The mount points exist in the image, owned by ysh, so the named volumes compose mounts there (and the run
# containers DockerRunLauncher starts) are created writable by ysh.
RUN pip install --no-cache-dir . \
    && mkdir -p "$DAGSTER_HOME/storage" /opt/ysh/data \
    && useradd --system --home /opt/ysh ysh && chown -R ysh "$DAGSTER_HOME" /opt/ysh/data
COPY deploy/dagster.yaml "$DAGSTER_HOME/dagster.yaml"
COPY deploy/workspace.compose.yaml /opt/ysh/deploy/workspace.compose.yaml
USER ysh
