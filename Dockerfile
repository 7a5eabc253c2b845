# The portal's image: web (gunicorn), Celery workers and beat all run from it, as user mdr, with the
# dependencies installed from the hashed lock (requirements/runtime.txt) and nothing else.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=mdrportal.settings \
    MDR_VAR_DIR=/var/lib/mdr \
    STATIC_ROOT=/app/static \
    GUNICORN_BIND=0.0.0.0:8000

# PDF reports: WeasyPrint lays them out with Pango and HarfBuzz, in DejaVu (the slim image has no font).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 mdr \
 && useradd --system --uid 10001 --gid mdr --home-dir /app --shell /usr/sbin/nologin mdr
WORKDIR /app

COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --require-hashes -r requirements/runtime.txt

COPY . .
# The project itself without resolving anything; static files collected with hashed, compressed names.
RUN pip install --no-deps . \
 && DEBUG=false SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost \
    SECRETS_ENCRYPTION_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= python manage.py collectstatic --noinput \
 && mkdir -p /var/lib/mdr \
 && chown mdr:mdr /var/lib/mdr

USER mdr
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
CMD ["gunicorn", "-c", "python:mdrportal.gunicorn", "mdrportal.wsgi:application"]
