"""SnapStart runtime hooks of the API function (template.yaml, ColdStartMode=snapstart).

With SnapStart, Lambda runs the init once per published version, snapshots the environment's
memory, and resumes every new environment from that one snapshot. So nothing in memory at the
snapshot may be a connection (its socket would be shared by every copy, and long dead), a
secret that rotates (the snapshot outlives the rotation, and a private key has no business in
it), or a random state (every copy would draw the same numbers):
- before the snapshot: close the pooled database connections, forget the key ring, and import
  the routers the app defers (authapi.middleware.deferred_routes): without SnapStart they wait
  for a request that needs them, so a cold start imports less; in a snapshot they cost nothing
  on a restore, so no restored environment's first admin or MFA request imports them;
- after a restore: re-seed `random`, forget the key ring again (if anything read it in between).

Nothing reads SSM or connects during init anyway (the first request does), so the hooks are a
guarantee rather than a cleanup. Outside SnapStart they are never called, and where
`snapshot-restore-py` is absent (tests, local runs) they are not registered at all.
"""

from __future__ import annotations

import logging
import random

from authapi.handlers.lambda_app import LambdaApp
from authapi.middleware.deferred_routes import load_deferred
from authapi.resources import app_resources

logger = logging.getLogger(__name__)


def before_snapshot(lambda_app: LambdaApp) -> None:
    """Leave no connection and no key in the environment about to be snapshotted, and every
    router the app defers in it."""
    load_deferred(lambda_app.app.router)
    resources = app_resources(lambda_app.app)
    # the runtime calls the hook between invocations: the environment's loop is not running
    lambda_app.loop.run_until_complete(resources.aclose())
    resources.key_provider.forget()


def after_restore(lambda_app: LambdaApp) -> None:
    """Make this restored environment its own: fresh randomness, keys read on first use."""
    # `random` was seeded once, at import, before the snapshot: every restored copy would
    # otherwise draw the same sequence (botocore's retry jitter, for one). `secrets`, `uuid4`
    # and argon2's salts read os.urandom, which Lambda re-seeds on restore.
    random.seed()
    app_resources(lambda_app.app).key_provider.forget()


def register_snapstart_hooks(lambda_app: LambdaApp) -> bool:
    """Register the hooks with the runtime; False (and nothing done) without the library."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(before_snapshot, lambda_app)
    register_after_restore(after_restore, lambda_app)
    return True
