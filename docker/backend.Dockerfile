# The backend under gunicorn. Build from the repository root:
#   docker build -f docker/backend.Dockerfile -t identity-backend .
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY manage.py .
COPY identity identity
COPY users users
COPY profiles profiles
COPY keycloak_bridge keycloak_bridge
COPY events events
COPY audit audit
COPY scim scim
# collectstatic opens no database, but the settings require DATABASE_URL.
RUN DJANGO_DEBUG=true DATABASE_URL=postgres://unused/unused DJANGO_STATIC_ROOT=/app/staticfiles \
    python manage.py collectstatic --noinput
ENV DJANGO_STATIC_ROOT=/app/staticfiles
EXPOSE 8000
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn identity.wsgi --workers ${WEB_CONCURRENCY:-2} --worker-class sync --bind 0.0.0.0:8000"]
