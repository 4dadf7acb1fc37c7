# syntax=docker/dockerfile:1
# One image for the API (default command), the worker (`synergies worker`) and the one-shot
# migration job (`alembic upgrade head`). Build: docker build -t synergies-tracker .

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: the project and its dependencies in a self-contained venv ----------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first (a layer that survives code changes): exactly the locked versions, hashes
# checked (requirements/run.txt, `make lock`), then the code itself without re-resolving.
COPY requirements/run.txt /tmp/requirements.txt
RUN pip install --require-hashes -r /tmp/requirements.txt
COPY pyproject.toml README* ./
COPY core ./core
COPY models ./models
COPY services ./services
COPY workflows ./workflows
COPY api ./api
COPY cli ./cli
RUN pip install --no-deps . && pip check

# --- runtime: slim, the PDF reports' fonts, unprivileged -------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    SYNERGIES_DATA_DIR=/app/var \
    SYNERGIES_LOG_JSON=true
# Liberation Serif (metric-compatible with Times New Roman, the UN documents' type): the PDF reports.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-liberation \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 synergies \
    && useradd --system --uid 10001 --gid synergies --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin synergies
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations
RUN mkdir -p /app/var && chown synergies:synergies /app/var
USER 10001:10001
EXPOSE 8000
# Access lines come from the app's request middleware (JSON, with request ids), not uvicorn's.
# X-Forwarded-For is trusted only from FORWARDED_ALLOW_IPS (uvicorn reads it): set it to the
# load balancer's address, or the rate limiter sees every client as the proxy.
ENV FORWARDED_ALLOW_IPS=127.0.0.1
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000", \
     "--proxy-headers", "--no-access-log"]
