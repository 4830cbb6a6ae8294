# clickup-sync: `docker build -t clickup-sync .`, or `docker compose up -d` (see docs/deployment.md).
#
# Two stages. The builder installs the project into a virtualenv with the README's own command
# (`pip install .`); the runtime stage copies only that virtualenv onto a clean slim Python and runs
# it as an unprivileged user. Every dependency ships wheels for Python 3.11 on Linux (amd64 and
# arm64), so no compiler is needed in either stage.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# What `pip install .` reads: the project metadata (readme = README.md) and the package with its
# SQL migrations, queries and web assets (package data). Nothing else of the repository.
COPY pyproject.toml README.md ./
COPY clickup_sync ./clickup_sync
RUN pip install --upgrade pip \
 && pip install . \
 && clickup-sync --help > /dev/null

# ---------------------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=3000

# A fixed, non-root uid/gid (PostgreSQL's embedded server, used only when no database is
# configured, refuses to run as root anyway). /app is its working directory: settings read an
# optional `.env` from here, and the default DATA_DIR (`var`) is /app/var.
RUN groupadd --system --gid 10001 clickup \
 && useradd --system --uid 10001 --gid clickup --home-dir /app --shell /usr/sbin/nologin clickup \
 && mkdir -p /app/var \
 && chown -R clickup:clickup /app

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
USER clickup:clickup

EXPOSE 3000

# /healthz answers while the process runs (readiness, database included, is /readyz). Python's own
# urllib: the slim image has no curl. urlopen raises on a refused connection or a non-2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)" || exit 1

ENTRYPOINT ["clickup-sync"]
CMD ["serve"]
