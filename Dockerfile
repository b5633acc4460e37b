# One image for the user-code server, the webserver and the daemon.
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
RUN pip install --no-cache-dir . \
    && mkdir -p "$DAGSTER_HOME" \
    && useradd --system --home /opt/ysh ysh && chown -R ysh "$DAGSTER_HOME"
COPY deploy/dagster.yaml "$DAGSTER_HOME/dagster.yaml"
COPY deploy/workspace.compose.yaml /opt/ysh/deploy/workspace.compose.yaml
USER ysh
