"""Settings of the floor server. The database (with its psycopg pool options) and the channel layer
are taken from the product's own settings module, read from the same environment, so that the two
servers differ only in the application code. ``DATABASE_URL`` names the floor's own database."""

from helpdesk import settings as _product

if not _product.DATABASE_URL or not _product.REDIS_URL:
    raise RuntimeError("The floor runs on PostgreSQL and Redis: set DATABASE_URL and REDIS_URL.")

DEBUG = False
SECRET_KEY = _product.SECRET_KEY
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["channels", "bench.floor"]
DATABASES = _product.DATABASES
CHANNEL_LAYERS = _product.CHANNEL_LAYERS
ASGI_APPLICATION = "bench.floor.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LOGGING = _product.LOGGING
