FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    BRIDGE_DB_PATH=/data/p2p-bridge.db

WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY bridge ./bridge
RUN pip install --constraint requirements.lock . \
    && useradd --system --uid 10001 --home-dir /data bridge \
    && mkdir -p /data && chown bridge /data

USER bridge
VOLUME ["/data"]
ENTRYPOINT ["p2p-bridge"]
CMD ["run"]
