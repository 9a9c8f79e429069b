"""Search service settings (environment prefix ``SEARCH_``)."""

from __future__ import annotations

from typing import ClassVar

from kit.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict

DEV_TYPESENSE_API_KEY = "dev-typesense-key"


class SearchSettings(ServiceSettings):
    """Everything the search service reads from its environment.

    Outside ``development``/``test`` construction fails while ``typesense_api_key`` (or a
    kit secret) still has its development default.
    """

    model_config = SettingsConfigDict(env_prefix="SEARCH_")

    secret_fields: ClassVar[tuple[str, ...]] = (
        *ServiceSettings.secret_fields,
        "typesense_api_key",
    )

    service_name: str = "search"
    database_url: str = "postgresql+asyncpg://search:search@127.0.0.1:5432/platform"
    db_schema: str = "search"
    http_port: int = 8205

    typesense_url: str = "http://127.0.0.1:8108"
    typesense_api_key: str = DEV_TYPESENSE_API_KEY
    typesense_timeout_s: float = 5.0
    #: Prepended to every alias and collection name (isolates test runs and tenants).
    collection_prefix: str = ""

    #: Kafka consumer group of the live indexer.
    consumer_group: str = "search"
    #: Run the event consumer inside the HTTP process (off when ``search consume`` runs apart).
    run_consumer: bool = True
    identity_user_topic: str = "identity.user.v1"
    identity_graph_topic: str = "identity.graph.v1"
    content_post_topic: str = "content.post.v1"
    content_community_topic: str = "content.community.v1"
    #: How often the consumer refreshes topic metadata (finds topics created later).
    topic_refresh_ms: int = 5000

    #: Upgrade the schema to head when the HTTP service starts.
    migrate_on_start: bool = True
    #: Where the Alembic scripts are (default: ``migrations/`` beside the source tree).
    migrations_dir: str = ""

    #: Typesense query tuning: words shorter than these lengths get no typo / one typo.
    #: Typesense 0.24 measures both lengths and edit distances in UTF-8 bytes, and an
    #: Arabic letter is two bytes: changing one letter costs one or two "typos". Arabic
    #: queries therefore get their own thresholds: no typos below 5 letters (Arabic words
    #: are short and close: علم/عالم, مصر/قصر), then up to two byte edits, i.e. one letter.
    min_len_1typo: int = 4
    min_len_2typo: int = 7
    arabic_min_len_1typo: int = 10
    arabic_min_len_2typo: int = 10
    #: Keep zero: every query word must match (with typos), so near-misses stay out.
    drop_tokens_threshold: int = 0
    #: Documents per import request when a reindex backfills a new collection version.
    reindex_batch_size: int = 500
    #: Connections of the query path's own pool (viewer context, statistics).
    read_pool_size: int = 4
    #: Seconds a viewer's follows/memberships/blocks are reused between queries; changes
    #: this process applies drop them at once, changes applied elsewhere wait for expiry
    #: (see ``search.query.repository.ViewerCache``). 0 turns the cache off.
    viewer_cache_ttl_s: float = 2.0
    #: Query statistics are stored in batches this often (see ``StatsRecorder``).
    stats_flush_interval_s: float = 1.0
    #: Statistics rows kept in memory at most while the database is unreachable.
    stats_buffer_max: int = 20_000
    #: Days of per-query statistics kept; older rows are pruned by ``search prune-stats``.
    stats_retention_days: int = 30

    @property
    def topics(self) -> list[str]:
        return [
            self.identity_user_topic,
            self.identity_graph_topic,
            self.content_post_topic,
            self.content_community_topic,
        ]
