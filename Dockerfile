# One image for the web process (daphne) and the Celery worker.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY helpdesk helpdesk
COPY chat chat
COPY tickets tickets
COPY blocking blocking
RUN pip install --no-cache-dir .
COPY . .
# A throwaway key of the strength production requires: collectstatic signs nothing.
RUN DEBUG=0 SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "helpdesk.asgi:application"]
