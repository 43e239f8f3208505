# One image for every comfybot instance: `comfybot run` (README "Deployment").
# Build: docker build -t comfybot .   Settings come from the environment (.env.example).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot bot
COPY core core
COPY adapters adapters
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
COPY --from=build /install /usr/local
RUN useradd --create-home --uid 10001 comfybot && mkdir /data && chown comfybot /data
WORKDIR /app
COPY workflows.catalog.yaml routing.yaml ./
# Listen on every interface (the load balancer reaches the container from outside it), keep
# saved outputs in /data, log one JSON object per line.
ENV HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    DATA_DIR=/data \
    LOG_FORMAT=json
USER comfybot
EXPOSE 8080
# Liveness only (the database answers); a load balancer checks GET /readyz instead.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4); sys.exit(0)"]
# SIGTERM drains: /readyz 503, leases handed over, deliveries finished (SHUTDOWN_GRACE_SECONDS).
STOPSIGNAL SIGTERM
CMD ["comfybot", "run"]
