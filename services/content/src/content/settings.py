"""Content service settings (environment prefix ``CONTENT_``)."""

from __future__ import annotations

from kit.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict

MIB = 1024 * 1024


class ContentSettings(ServiceSettings):
    """Everything the content service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="CONTENT_")

    service_name: str = "content"
    database_url: str = "postgresql+asyncpg://content:content@127.0.0.1:5432/platform"
    db_schema: str = "content"
    http_port: int = 8202

    #: Longest post and comment text, in characters (after NFC normalisation).
    post_max_chars: int = 5000
    comment_max_chars: int = 2000
    max_media_per_post: int = 10

    #: Upload limits by media family, in bytes.
    image_max_bytes: int = 10 * MIB
    video_max_bytes: int = 100 * MIB
    #: Local-disk storage backend root (relative paths are taken from the working directory).
    media_dir: str = ".data/media"
    #: Absolute base URL under which media are served back (through the gateway); a
    #: media object's URL is ``<media_base_url>/<media id>``.
    media_base_url: str = "http://127.0.0.1:8080/v1/content/media"

    #: Authors (and communities) with more followers (members) than this are not fanned
    #: out on write; their posts are pulled into home timelines at read time.
    fanout_max_audience: int = 10_000
    #: Newest entries kept per home timeline in Redis; older pages come from the database.
    timeline_max_entries: int = 800
    #: Candidates ranked by ``?rank=hot`` (the newest this many of the timeline).
    hot_candidates: int = 300

    #: Seconds a cached post stays in Redis; every change invalidates it at once.
    post_cache_ttl_s: int = 60
    #: Connections of the raw read pool the timeline and post reads use.
    read_pool_size: int = 4
    #: How long a reader holding the rebuild lock may take before another one tries.
    post_cache_lock_s: float = 3.0
    #: How often buffered view counters are written to the database.
    view_flush_interval_s: float = 5.0

    #: Idempotency-Key answers (post and comment creation) are kept this long.
    idempotency_ttl_s: int = 24 * 3600

    #: Upgrade the schema to head when the HTTP service starts.
    migrate_on_start: bool = True
    migrations_dir: str = ""
    #: Background work inside ``content serve`` (off when run as separate processes).
    run_outbox_relay: bool = True
    run_consumers: bool = True
    run_view_flusher: bool = True
