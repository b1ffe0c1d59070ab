/// The control-table migrations, in order. Append new ones; never edit an applied one.
public enum ControlMigrations {
    public static let all: [Migration] = [
        Migration(version: 1, name: "control tables: tenants, integrations, users, tokens, keys, logs") { t in
            [
                """
                CREATE TABLE tenants (
                    id TEXT PRIMARY KEY,
                    slug TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    default_country TEXT NOT NULL DEFAULT 'RU',
                    time_zone TEXT NOT NULL DEFAULT 'Europe/Moscow',
                    pbx_token_hash TEXT NOT NULL UNIQUE,
                    pbx_token_enc TEXT NOT NULL,
                    created_at \(t.timestamp) NOT NULL,
                    updated_at \(t.timestamp) NOT NULL,
                    deleted_at \(t.timestamp)
                )
                """,
                """
                CREATE TABLE integrations (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    kind TEXT NOT NULL,
                    enabled \(t.bool) NOT NULL DEFAULT FALSE,
                    settings TEXT NOT NULL DEFAULT '{}',
                    secrets_enc TEXT,
                    created_at \(t.timestamp) NOT NULL,
                    updated_at \(t.timestamp) NOT NULL,
                    UNIQUE (tenant_id, kind)
                )
                """,
                """
                CREATE TABLE admin_users (
                    id TEXT PRIMARY KEY,
                    email TEXT NOT NULL UNIQUE,
                    role TEXT NOT NULL,
                    tenant_id TEXT REFERENCES tenants(id),
                    password_hash TEXT NOT NULL,
                    created_at \(t.timestamp) NOT NULL,
                    disabled_at \(t.timestamp)
                )
                """,
                """
                CREATE TABLE api_tokens (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    name TEXT NOT NULL,
                    prefix TEXT NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    scope TEXT NOT NULL,
                    created_at \(t.timestamp) NOT NULL,
                    expires_at \(t.timestamp),
                    last_used_at \(t.timestamp),
                    revoked_at \(t.timestamp)
                )
                """,
                "CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id)",
                """
                CREATE TABLE signing_keys (
                    kid TEXT PRIMARY KEY,
                    algorithm TEXT NOT NULL,
                    key_enc TEXT NOT NULL,
                    created_at \(t.timestamp) NOT NULL,
                    retired_at \(t.timestamp)
                )
                """,
                """
                CREATE TABLE integration_logs (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    integration TEXT NOT NULL,
                    event_type TEXT NOT NULL,
                    status TEXT NOT NULL,
                    request_data TEXT,
                    response_data TEXT,
                    error_message TEXT,
                    duration_ms INTEGER,
                    created_at \(t.timestamp) NOT NULL
                )
                """,
                "CREATE INDEX integration_logs_tenant_time ON integration_logs (tenant_id, created_at)",
            ]
        },
        Migration(version: 2, name: "job queue and worker registry") { t in
            [
                """
                CREATE TABLE jobs (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT REFERENCES tenants(id),
                    kind TEXT NOT NULL,
                    payload TEXT NOT NULL DEFAULT '{}',
                    priority INTEGER NOT NULL DEFAULT 100,
                    state TEXT NOT NULL,
                    run_at \(t.timestamp) NOT NULL,
                    attempt INTEGER NOT NULL DEFAULT 0,
                    max_attempts INTEGER NOT NULL,
                    unique_key TEXT,
                    lease_owner TEXT,
                    lease_expires_at \(t.timestamp),
                    last_error TEXT,
                    result TEXT,
                    created_at \(t.timestamp) NOT NULL,
                    updated_at \(t.timestamp) NOT NULL,
                    finished_at \(t.timestamp)
                )
                """,
                // The claim scans only runnable rows, in priority order.
                """
                CREATE INDEX jobs_runnable ON jobs (priority, run_at)
                WHERE state IN ('available', 'scheduled', 'retryable')
                """,
                "CREATE INDEX jobs_running_lease ON jobs (lease_expires_at) WHERE state = 'running'",
                "CREATE INDEX jobs_tenant_kind ON jobs (tenant_id, kind, created_at)",
                // A unique key is unique among live jobs only: a finished job frees its key.
                """
                CREATE UNIQUE INDEX jobs_unique_live ON jobs (unique_key)
                WHERE unique_key IS NOT NULL AND state IN ('available', 'scheduled', 'running', 'retryable')
                """,
                """
                CREATE TABLE workers (
                    id TEXT PRIMARY KEY,
                    hostname TEXT NOT NULL,
                    pid INTEGER NOT NULL,
                    concurrency INTEGER NOT NULL,
                    in_flight INTEGER NOT NULL DEFAULT 0,
                    started_at \(t.timestamp) NOT NULL,
                    heartbeat_at \(t.timestamp) NOT NULL,
                    stopped_at \(t.timestamp)
                )
                """,
            ]
        },
        Migration(version: 3, name: "scheduler ticks: one row per schedule and period") { t in
            [
                """
                CREATE TABLE schedule_ticks (
                    schedule TEXT NOT NULL,
                    period BIGINT NOT NULL,
                    job_id TEXT NOT NULL,
                    fired_at \(t.timestamp) NOT NULL,
                    PRIMARY KEY (schedule, period)
                )
                """
            ]
        },
        Migration(version: 4, name: "tenant schedules; running jobs by tenant for concurrency caps") { t in
            [
                """
                CREATE TABLE schedules (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    name TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    payload TEXT NOT NULL DEFAULT '{}',
                    cron TEXT,
                    every_seconds INTEGER,
                    enabled \(t.bool) NOT NULL DEFAULT TRUE,
                    max_attempts INTEGER NOT NULL,
                    created_at \(t.timestamp) NOT NULL,
                    updated_at \(t.timestamp) NOT NULL,
                    UNIQUE (tenant_id, name)
                )
                """,
                "CREATE INDEX jobs_running_tenant ON jobs (tenant_id) WHERE state = 'running'",
            ]
        },
        Migration(version: 5, name: "effect ledger: each external effect recorded once per idempotency key") { t in
            [
                """
                CREATE TABLE external_effects (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    idempotency_key TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    job_id TEXT,
                    result TEXT NOT NULL DEFAULT 'null',
                    recorded_at \(t.timestamp) NOT NULL,
                    PRIMARY KEY (tenant_id, idempotency_key)
                )
                """,
                "CREATE INDEX external_effects_time ON external_effects (recorded_at)",
            ]
        },
        Migration(version: 6, name: "telephony: calls, their raw events, managers ↔ extensions") { t in
            [
                """
                CREATE TABLE calls (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    external_id TEXT NOT NULL,
                    source TEXT NOT NULL,
                    direction TEXT NOT NULL,
                    customer_phone TEXT,
                    trunk TEXT,
                    extensions TEXT NOT NULL DEFAULT '[]',
                    answered_by TEXT,
                    state TEXT NOT NULL,
                    outcome TEXT,
                    started_at \(t.timestamp) NOT NULL,
                    answered_at \(t.timestamp),
                    ended_at \(t.timestamp),
                    duration INTEGER NOT NULL DEFAULT 0,
                    billsec INTEGER NOT NULL DEFAULT 0,
                    recording_url TEXT,
                    dial_seen \(t.bool) NOT NULL DEFAULT FALSE,
                    created_at \(t.timestamp) NOT NULL,
                    updated_at \(t.timestamp) NOT NULL,
                    UNIQUE (tenant_id, external_id)
                )
                """,
                "CREATE INDEX calls_tenant_started ON calls (tenant_id, started_at)",
                """
                CREATE TABLE call_events (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    call_external_id TEXT NOT NULL,
                    event_type TEXT NOT NULL,
                    source TEXT NOT NULL,
                    dedup_key TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    received_at \(t.timestamp) NOT NULL,
                    UNIQUE (tenant_id, dedup_key)
                )
                """,
                "CREATE INDEX call_events_call ON call_events (tenant_id, call_external_id, received_at)",
                """
                CREATE TABLE manager_extensions (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    integration TEXT NOT NULL,
                    crm_user_id TEXT NOT NULL,
                    extension TEXT NOT NULL,
                    crm_user_name TEXT,
                    updated_at \(t.timestamp) NOT NULL,
                    PRIMARY KEY (tenant_id, integration, crm_user_id),
                    UNIQUE (tenant_id, integration, extension)
                )
                """,
            ]
        },
        Migration(version: 7, name: "CRM mirror: sync state per entity, sync runs") { t in
            [
                """
                CREATE TABLE sync_state (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    integration TEXT NOT NULL,
                    entity TEXT NOT NULL,
                    enabled \(t.bool) NOT NULL DEFAULT TRUE,
                    interval_minutes INTEGER NOT NULL DEFAULT 30,
                    webhook_enabled \(t.bool) NOT NULL DEFAULT TRUE,
                    state TEXT NOT NULL DEFAULT 'idle',
                    mode TEXT,
                    job_id TEXT,
                    run_started_at \(t.timestamp),
                    cursor_id \(t.bigint),
                    rows_done \(t.bigint) NOT NULL DEFAULT 0,
                    rows_total \(t.bigint),
                    rows_in_mirror \(t.bigint),
                    checkpoint_modified \(t.timestamp),
                    last_full_at \(t.timestamp),
                    last_incremental_at \(t.timestamp),
                    last_error TEXT,
                    updated_at \(t.timestamp) NOT NULL,
                    PRIMARY KEY (tenant_id, integration, entity)
                )
                """,
                """
                CREATE TABLE sync_runs (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    integration TEXT NOT NULL,
                    entity TEXT NOT NULL,
                    mode TEXT NOT NULL,
                    job_id TEXT,
                    status TEXT NOT NULL,
                    rows_read \(t.bigint) NOT NULL DEFAULT 0,
                    rows_deleted \(t.bigint) NOT NULL DEFAULT 0,
                    columns_added INTEGER NOT NULL DEFAULT 0,
                    error TEXT,
                    started_at \(t.timestamp) NOT NULL,
                    finished_at \(t.timestamp)
                )
                """,
                "CREATE INDEX sync_runs_tenant ON sync_runs (tenant_id, started_at)",
            ]
        },
        Migration(version: 8, name: "connector cursors: where a connector's event stream stands per tenant") { t in
            [
                """
                CREATE TABLE connector_cursors (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    integration TEXT NOT NULL,
                    name TEXT NOT NULL,
                    value TEXT NOT NULL,
                    updated_at \(t.timestamp) NOT NULL,
                    PRIMARY KEY (tenant_id, integration, name)
                )
                """
            ]
        },
        Migration(version: 9, name: "sync state remembers which mirror its checkpoints describe") { _ in
            ["ALTER TABLE sync_state ADD COLUMN mirror_location TEXT"]
        },
        Migration(version: 10, name: "people (seed 003): the app's people, their CRM sync state, an event feed, settings") { t in
            [
                """
                CREATE TABLE people (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    external_id TEXT,
                    full_name TEXT NOT NULL,
                    phone TEXT,
                    email TEXT,
                    stage TEXT NOT NULL,
                    fields TEXT NOT NULL DEFAULT '{}',
                    version INTEGER NOT NULL DEFAULT 1,
                    crm_kind TEXT,
                    crm_lead_id TEXT,
                    sync_status TEXT NOT NULL DEFAULT 'pending',
                    sync_reason TEXT,
                    sync_attempts INTEGER NOT NULL DEFAULT 0,
                    last_attempt_at \(t.timestamp),
                    synced_version INTEGER NOT NULL DEFAULT 0,
                    pushed TEXT NOT NULL DEFAULT '{}',
                    lease_until \(t.timestamp),
                    idempotency_key TEXT,
                    request_hash TEXT,
                    deleted_at \(t.timestamp),
                    created_at \(t.timestamp) NOT NULL,
                    updated_at \(t.timestamp) NOT NULL,
                    UNIQUE (tenant_id, external_id),
                    UNIQUE (tenant_id, idempotency_key)
                )
                """,
                "CREATE INDEX people_tenant_stage ON people (tenant_id, stage)",
                "CREATE INDEX people_tenant_sync ON people (tenant_id, sync_status)",
                """
                CREATE TABLE people_events (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    seq \(t.bigint) NOT NULL,
                    person_id TEXT NOT NULL,
                    type TEXT NOT NULL,
                    body TEXT NOT NULL,
                    created_at \(t.timestamp) NOT NULL,
                    PRIMARY KEY (tenant_id, seq)
                )
                """,
                """
                CREATE TABLE people_feed (
                    tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
                    last_seq \(t.bigint) NOT NULL
                )
                """,
                """
                CREATE TABLE people_settings (
                    tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
                    settings TEXT NOT NULL,
                    callback_secret TEXT,
                    updated_at \(t.timestamp) NOT NULL
                )
                """,
            ]
        },
        Migration(version: 11, name: "charts: questions asked about a tenant's mirror, with their SQL, spec and result") { t in
            [
                """
                CREATE TABLE charts (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    question TEXT NOT NULL,
                    title TEXT NOT NULL,
                    sql TEXT NOT NULL,
                    spec TEXT NOT NULL,
                    result TEXT NOT NULL,
                    planner TEXT NOT NULL,
                    created_at \(t.timestamp) NOT NULL
                )
                """,
                "CREATE INDEX charts_tenant ON charts (tenant_id, created_at)",
            ]
        },
        Migration(version: 12, name: "analytics: LLM token usage, few-shot examples, dashboards, chart refresh times") { t in
            [
                """
                CREATE TABLE llm_usage (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    day TEXT NOT NULL,
                    model TEXT NOT NULL,
                    requests BIGINT NOT NULL DEFAULT 0,
                    prompt_tokens BIGINT NOT NULL DEFAULT 0,
                    completion_tokens BIGINT NOT NULL DEFAULT 0,
                    failures BIGINT NOT NULL DEFAULT 0,
                    PRIMARY KEY (tenant_id, day, model)
                )
                """,
                """
                CREATE TABLE chart_examples (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    question TEXT NOT NULL,
                    sql TEXT NOT NULL,
                    created_at \(t.timestamp) NOT NULL
                )
                """,
                "CREATE INDEX chart_examples_tenant ON chart_examples (tenant_id, created_at)",
                """
                CREATE TABLE dashboards (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    name TEXT NOT NULL,
                    layout TEXT NOT NULL DEFAULT '[]',
                    refresh_minutes INTEGER,
                    share_version INTEGER NOT NULL DEFAULT 1,
                    refreshed_at \(t.timestamp),
                    created_at \(t.timestamp) NOT NULL,
                    updated_at \(t.timestamp) NOT NULL
                )
                """,
                "CREATE INDEX dashboards_tenant ON dashboards (tenant_id, name)",
                "ALTER TABLE charts ADD COLUMN refreshed_at \(t.timestamp)",
                "ALTER TABLE charts ADD COLUMN refresh_error TEXT",
            ]
        },
    ]
}
