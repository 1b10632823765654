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
ENTRYPOINT ["python", "-m", "bridge"]
CMD ["run"]
