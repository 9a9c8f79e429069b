"""The shared service kit: settings, db, migrations, app, auth, errors, events, outbox,
consumer, health, metrics, tracing, logging, pagination and test helpers.

Import from the modules (``from kit.db import Session``); see ``libs/README.md``.
"""
