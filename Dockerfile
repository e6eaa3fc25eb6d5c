# The demo under gunicorn: runtime dependencies only (site/requirements.txt),
# static files collected at build and served by WhiteNoise, the SQLite
# database and the demo user's password on the /data volume.
FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -r site/requirements.txt
ENV DJANGO_DEBUG=0 \
    DJANGO_STATIC_ROOT=/app/staticfiles \
    DEMO_DB_PATH=/data/demo.sqlite3 \
    DEMO_PASSWORD_FILE=/data/demo-password.txt
RUN python manage.py collectstatic --noinput \
    && useradd --create-home demo && mkdir -p /data && chown demo /data
USER demo
VOLUME /data
EXPOSE 8000
# The demo user is created on first start (its password printed then, and
# kept on /data); later starts leave it alone: `manage.py demo_user --show`.
CMD ["sh", "-c", "python manage.py migrate --noinput && python manage.py demo_user && exec gunicorn --pythonpath site --workers 4 --bind 0.0.0.0:8000 demo.wsgi"]
