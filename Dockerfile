FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -r requirements.txt
ENV DJANGO_DEBUG=0 \
    DEMO_DB_PATH=/data/demo.sqlite3
RUN mkdir -p /data && python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["sh", "-c", "python manage.py migrate --noinput && python manage.py demo_user && exec gunicorn --pythonpath site --workers 4 --bind 0.0.0.0:8000 demo.wsgi"]
