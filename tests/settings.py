"""The test run's settings: the product's own, read from the same environment, plus a strong
SECRET_KEY when the environment has none.

The suite runs like production (pytest-django turns DEBUG off, and with DATABASE_URL set it is off
anyway), and the helpdesk refuses to start in production without a strong key. The key goes into the
environment, so that the daphne processes the tests start (tests/live_server.py) and the commands
they run sign sessions with it too.
"""

import os
import secrets
import tempfile

os.environ.setdefault("SECRET_KEY", "test-" + secrets.token_urlsafe(48))
# Files sent in the tests' chats go to a directory of this run, shared with the daphne processes it starts.
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="helpdesk-test-media-"))

from helpdesk.settings import *  # noqa: E402, F403

# Tasks run in the test's own process and thread, after commit, so that a test sees their effect when
# the call returns. The test of the real worker (tests/test_worker.py) runs one on the Redis broker.
CELERY_TASK_ALWAYS_EAGER = True
TASKS_EAGER_IN_THREAD = False
