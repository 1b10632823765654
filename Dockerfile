FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app BRIDGE_DB_PATH=/data/p2p-bridge.db

WORKDIR /app
# Runtime dependencies only, every file checked against the lock's hashes.
COPY requirements/runtime.txt ./requirements/runtime.txt
RUN pip install --require-hashes --requirement requirements/runtime.txt
# The bridge itself runs from source (`python -m bridge` is the `p2p-bridge` command): nothing to build.
COPY bridge ./bridge
RUN python -m compileall -q bridge \
    && useradd --system --uid 10001 --home-dir /data bridge \
    && mkdir -p /data && chown bridge /data

USER bridge
VOLUME ["/data"]
# With METRICS_PORT set, healthy means /healthz answers 200 (polling and delivery alive); without it, always.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["python", "-m", "bridge.healthcheck"]
ENTRYPOINT ["python", "-m", "bridge"]
CMD ["run"]
