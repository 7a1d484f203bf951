# One image for every BPC process; the command picks the service:
#   docker run bpc python -m ops.runner org      (or customer, …, gateway)
#   docker run bpc bpc topology                      (declare the broker topology once)
# The web workbench, built from the npm registry at build time (nothing fetched at run time)
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/index.html web/vite.config.js ./
COPY web/src ./src
RUN npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BPC_DATA_DIR=/var/lib/bpc \
    BPC_WEB_DIR=/app/web/dist \
    BPC_METRICS_HOST=0.0.0.0

WORKDIR /app

# Dependencies first (cached while only the code changes): install the declared
# dependencies from pyproject.toml without the project itself.
COPY pyproject.toml ./
RUN python - <<'PY' > /tmp/requirements.txt
import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))
PY
RUN pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

COPY common ./common
COPY services ./services
COPY gateway ./gateway
COPY ops ./ops
COPY setup.py ./
COPY --from=web /web/dist ./web/dist
# gcc builds the faster sentence-embedding engine (setup.py), then leaves; libgomp1 stays
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libgomp1 \
    && pip install --no-deps . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 bpc \
    && useradd --system --uid 10001 --gid bpc --home-dir /app --shell /usr/sbin/nologin bpc \
    && mkdir -p /var/lib/bpc && chown bpc:bpc /var/lib/bpc

USER bpc

# gateway HTTP; services' Prometheus ports are 9101..9107 (config.METRICS_BASE_PORT + index)
EXPOSE 8000 9101-9107

CMD ["python", "-m", "ops.runner", "gateway"]
