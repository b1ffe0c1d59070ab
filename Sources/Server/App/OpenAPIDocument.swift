import Foundation

/// The hand-kept OpenAPI 3.1 description of every route. A test compares it with the router, so a
/// route cannot be added without documenting it here.
public enum OpenAPIDocument {
    /// One documented operation.
    struct Operation: Sendable {
        enum Auth: Sendable { case none, ops, admin, superAdmin, tenant }
        var method: String
        var path: String
        var summary: String
        var tag: String
        var auth: Auth
        var body: BodySchema? = nil
        var success: Int = 200
    }

    /// A flat JSON object body: property name → JSON type.
    struct BodySchema: Sendable {
        var properties: [String: String]
        var required: [String]

        var json: [String: Any] {
            [
                "type": "object", "additionalProperties": false, "required": required,
                "properties": properties.mapValues { ["type": $0] },
            ]
        }
    }

    private static func object(_ properties: [String: String], required: [String] = []) -> BodySchema {
        BodySchema(properties: properties, required: required)
    }

    static let operations: [Operation] = [
        .init(method: "get", path: "/health", summary: "Liveness and readiness with component status (503 when not ready)", tag: "ops", auth: .none),
        .init(method: "get", path: "/health/live", summary: "Liveness only: the process answers", tag: "ops", auth: .none),
        .init(method: "get", path: "/stats", summary: "Request counters per tenant", tag: "ops", auth: .ops),
        .init(method: "get", path: "/metrics", summary: "Prometheus metrics", tag: "ops", auth: .ops),
        .init(method: "get", path: "/openapi.json", summary: "This document", tag: "ops", auth: .none),
    ] + telephonyOperations + retailCRMCallbacks + telephonySetup + [
        .init(
            method: "post", path: "/api/v1/auth/login", summary: "Exchange e-mail and password for an admin JWT",
            tag: "auth", auth: .none, body: object(["email": "string", "password": "string"], required: ["email", "password"])),
        .init(method: "get", path: "/api/v1/auth/me", summary: "Who the bearer credential belongs to", tag: "auth", auth: .admin),
        .init(method: "get", path: "/api/v1/users", summary: "List admin users", tag: "users", auth: .superAdmin),
        .init(
            method: "post", path: "/api/v1/users", summary: "Create an admin user", tag: "users", auth: .superAdmin,
            body: object(
                ["email": "string", "password": "string", "role": "string", "tenant": "string"],
                required: ["email", "password", "role"]), success: 201),
        .init(method: "post", path: "/api/v1/users/{id}/disable", summary: "Disable a user (ends their sessions)", tag: "users", auth: .superAdmin),
        .init(method: "post", path: "/api/v1/users/{id}/enable", summary: "Enable a user", tag: "users", auth: .superAdmin),
        .init(
            method: "post", path: "/api/v1/jobs", summary: "Enqueue a job of a known kind; returns its id (200 with deduplicated=true when a live job has the unique_key)",
            tag: "jobs", auth: .admin,
            body: object(
                ["kind": "string", "tenant": "string", "payload": "object", "run_at": "string", "priority": "integer",
                 "unique_key": "string", "max_attempts": "integer"], required: ["kind"]), success: 201),
        .init(method: "get", path: "/api/v1/jobs", summary: "List jobs, newest first (filters: tenant, kind, state, limit)", tag: "jobs", auth: .admin),
        .init(method: "get", path: "/api/v1/jobs/{id}", summary: "A job's state, attempts, last error and result", tag: "jobs", auth: .admin),
        .init(method: "post", path: "/api/v1/jobs/{id}/cancel", summary: "Cancel a job that has not finished", tag: "jobs", auth: .admin),
        .init(method: "post", path: "/api/v1/jobs/{id}/retry", summary: "Re-queue a dead or cancelled job", tag: "jobs", auth: .admin),
        .init(method: "get", path: "/api/v1/workers", summary: "Workers seen in the last hour: alive, heartbeat, jobs in flight", tag: "jobs", auth: .superAdmin),
        .init(method: "get", path: "/api/v1/tenants", summary: "List the tenants the caller may see", tag: "tenants", auth: .admin),
        .init(
            method: "post", path: "/api/v1/tenants", summary: "Create a tenant; returns its PBX token and first API token once",
            tag: "tenants", auth: .superAdmin,
            body: object(
                ["slug": "string", "name": "string", "default_country": "string", "time_zone": "string"],
                required: ["slug", "name"]), success: 201),
        .init(method: "get", path: "/api/v1/tenants/{tenant}", summary: "Show a tenant", tag: "tenants", auth: .tenant),
        .init(
            method: "patch", path: "/api/v1/tenants/{tenant}", summary: "Change a tenant's name, country or time zone",
            tag: "tenants", auth: .admin,
            body: object(["name": "string", "default_country": "string", "time_zone": "string"])),
        .init(method: "delete", path: "/api/v1/tenants/{tenant}", summary: "Soft-delete a tenant (data kept, tokens stop)", tag: "tenants", auth: .superAdmin, success: 204),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/pbx-token", summary: "Reveal the PBX token", tag: "tenants", auth: .admin),
        .init(method: "post", path: "/api/v1/tenants/{tenant}/pbx-token/rotate", summary: "Replace the PBX token", tag: "tenants", auth: .admin),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/integrations", summary: "List integrations (secrets masked)", tag: "integrations", auth: .tenant),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/integrations/{kind}", summary: "Show one integration", tag: "integrations", auth: .tenant),
        .init(
            method: "put", path: "/api/v1/tenants/{tenant}/integrations/{kind}",
            summary: "Create or change an integration: settings replace, secrets merge (null removes)",
            tag: "integrations", auth: .tenant, body: object(["enabled": "boolean", "settings": "object", "secrets": "object"])),
        .init(method: "delete", path: "/api/v1/tenants/{tenant}/integrations/{kind}", summary: "Remove an integration and its secrets", tag: "integrations", auth: .tenant, success: 204),
        .init(method: "post", path: "/api/v1/tenants/{tenant}/integrations/{kind}/enable", summary: "Enable (fails naming any missing field)", tag: "integrations", auth: .tenant),
        .init(method: "post", path: "/api/v1/tenants/{tenant}/integrations/{kind}/disable", summary: "Disable", tag: "integrations", auth: .tenant),
        .init(method: "post", path: "/api/v1/tenants/{tenant}/integrations/{kind}/test", summary: "Test the connection; the outcome is logged", tag: "integrations", auth: .tenant),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/tokens", summary: "List API tokens (never the tokens themselves)", tag: "tokens", auth: .admin),
        .init(
            method: "post", path: "/api/v1/tenants/{tenant}/tokens", summary: "Issue an API token; shown once",
            tag: "tokens", auth: .admin,
            body: object(["name": "string", "scope": "string", "expires_at": "string"], required: ["name"]), success: 201),
        .init(method: "delete", path: "/api/v1/tenants/{tenant}/tokens/{id}", summary: "Revoke an API token", tag: "tokens", auth: .admin, success: 204),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/schedules", summary: "List recurring jobs with their next run and last firing", tag: "schedules", auth: .admin),
        .init(
            method: "post", path: "/api/v1/tenants/{tenant}/schedules",
            summary: "Create a recurring job: cron (5 fields, tenant time zone) or every_seconds (60–2678400)",
            tag: "schedules", auth: .admin,
            body: object(
                ["name": "string", "kind": "string", "payload": "object", "cron": "string", "every_seconds": "integer",
                 "enabled": "boolean", "max_attempts": "integer"], required: ["name", "kind"]), success: 201),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/schedules/{id}", summary: "Show a recurring job", tag: "schedules", auth: .admin),
        .init(
            method: "patch", path: "/api/v1/tenants/{tenant}/schedules/{id}",
            summary: "Change a recurring job (setting cron clears every_seconds and the other way round)", tag: "schedules", auth: .admin,
            body: object(
                ["name": "string", "kind": "string", "payload": "object", "cron": "string", "every_seconds": "integer",
                 "enabled": "boolean", "max_attempts": "integer"])),
        .init(method: "delete", path: "/api/v1/tenants/{tenant}/schedules/{id}", summary: "Delete a recurring job", tag: "schedules", auth: .admin, success: 204),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/calls", summary: "Calls, newest first (filters: from, to, outcome, direction, limit)", tag: "calls", auth: .tenant),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/calls/{id}", summary: "One call with the raw PBX events it was built from", tag: "calls", auth: .tenant),
        .init(
            method: "post", path: "/api/v1/tenants/{tenant}/calls/replay",
            summary: "Send completed calls (ids, or from/to) to the CRMs again; steps already delivered are skipped",
            tag: "calls", auth: .tenant, body: object(["ids": "array", "from": "string", "to": "string", "integration": "string"]), success: 202),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/logs", summary: "Integration log, newest first (filters: integration, status, before, limit)", tag: "logs", auth: .tenant),
    ] + syncOperations + peopleOperations + [
        .init(
            method: "post", path: "/hooks/bitrix24/{tenant}",
            summary: "Bitrix24 events (form-encoded; auth[application_token] checked): ONCRM{DEAL,CONTACT,LEAD,COMPANY}{ADD,UPDATE,DELETE} re-read into the mirror",
            tag: "crm-callbacks", auth: .none),
        .init(
            method: "post", path: "/hooks/bitrix24/{tenant}/install",
            summary: "Bitrix24 app install handler (form AUTH_ID, REFRESH_ID, AUTH_EXPIRES, member_id): tokens stored once the tenant's portal accepts them",
            tag: "crm-callbacks", auth: .none),
        .init(
            method: "get", path: "/oauth/bitrix24/{tenant}/callback",
            summary: "Bitrix24 OAuth redirect (code, state): the code is traded for the app's tokens", tag: "crm-callbacks", auth: .none),
        .init(
            method: "post", path: "/api/v1/tenants/{tenant}/integrations/{kind}/authorize",
            summary: "Bitrix24 app or amoCRM integration: the consent address with a one-time state, and the redirect URI (and Bitrix24 install handler) to configure",
            tag: "integrations", auth: .tenant),
    ] + amoCRMOperations

    static let amoCRMOperations: [Operation] = [
        .init(
            method: "post", path: "/hooks/amocrm/{tenant}/{secret}",
            summary: "amoCRM webhooks (form-encoded, PHP brackets, v2 names; the secret in the address is the credential): leads/contacts/companies re-read into the mirror",
            tag: "crm-callbacks", auth: .none),
        .init(
            method: "post", path: "/api/webhooks/amo",
            summary: "Seed 004 compatibility: a JSON delivery with X-Account-ID and X-Signature (HMAC-SHA256 with the client secret of the body, or of client|account)",
            tag: "crm-callbacks", auth: .none),
        .init(method: "get", path: "/api/webhooks/amo/health", summary: "Seed 004: webhook endpoint health (database connected)", tag: "crm-callbacks", auth: .none),
        .init(method: "get", path: "/api/webhooks/amo/test", summary: "Seed 004: the webhook endpoint and the events it takes", tag: "crm-callbacks", auth: .none),
        .init(
            method: "get", path: "/oauth/amocrm/{tenant}/callback",
            summary: "amoCRM OAuth redirect (code, state, referer): the code is traded for tokens at the configured account", tag: "crm-callbacks", auth: .none),
        .init(
            method: "post", path: "/api/v1/tenants/{tenant}/integrations/{kind}/webhooks",
            summary: "amoCRM: register a secret hook address in the account for lead, contact and company changes (needs public_url)",
            tag: "integrations", auth: .tenant),
        .init(
            method: "get", path: "/api/v1/tenants/{tenant}/integrations/{kind}/mapping",
            summary: "amoCRM: the status map (status id → stage name) and UTM fields", tag: "integrations", auth: .tenant),
        .init(
            method: "put", path: "/api/v1/tenants/{tenant}/integrations/{kind}/mapping",
            summary: "amoCRM: save the status map and UTM fields, each checked against the account's statuses and lead fields",
            tag: "integrations", auth: .tenant, body: object(["status_map": "object", "utm_fields": "object"])),
        .init(
            method: "get", path: "/api/v1/tenants/{tenant}/schema.md",
            summary: "Data dictionary of the tenant's mirror in Markdown: tables, columns, SQL types, CRM fields, RU/EN labels, keys and joins, row counts, null ratios, masked examples",
            tag: "sync", auth: .tenant),
        .init(
            method: "get", path: "/api/v1/tenants/{tenant}/schema.json", summary: "The data dictionary as JSON (the same content)", tag: "sync", auth: .tenant),
        .init(
            method: "post", path: "/api/v1/tenants/{tenant}/query",
            summary: "One read-only SELECT over the tenant's mirror: checked (one statement, no writes, no files, sleeps or other schemas), read-only connection or transaction with a role that reads only the tenant's schema, 5 s, row limit",
            tag: "sync", auth: .tenant, body: object(["sql": "string", "limit": "integer"])),
        .init(
            method: "post", path: "/api/v1/tenants/{tenant}/charts/ask",
            summary: "A question (RU or EN) → SQL by the LLM planner (when OPENAI_* is set) or the built-in one → guarded run → {id, title, sql, chart, data, explanation, planner, usage?, repairs?, fallback_reason?}; 503 cannot_answer says what it can do",
            tag: "charts", auth: .tenant, body: object(["question": "string", "chart_type": "string", "planner": "string"], required: ["question"])),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/charts", summary: "The tenant's asked charts, newest first (?limit=)", tag: "charts", auth: .tenant),
        .init(
            method: "get", path: "/api/v1/tenants/{tenant}/charts/{file}",
            summary: "An asked chart as <id>.svg (?theme=dark, ?lang=en), .png (needs rsvg-convert), .json, .csv, .md or .vl.json (Vega-Lite)",
            tag: "charts", auth: .tenant),
        .init(
            method: "post", path: "/api/v1/tenants/{tenant}/chart-examples",
            summary: "Save a good question → SQL pair ({question, sql} or {chart_id}) as an example for the LLM planner; the SQL must pass the guard and run",
            tag: "charts", auth: .tenant, body: object(["question": "string", "sql": "string", "chart_id": "string"]), success: 201),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/chart-examples", summary: "The tenant's saved examples", tag: "charts", auth: .tenant),
        .init(method: "delete", path: "/api/v1/tenants/{tenant}/chart-examples/{id}", summary: "Forget an example", tag: "charts", auth: .tenant, success: 204),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/llm/usage", summary: "The language model in use and its tokens per day (?days=30)", tag: "charts", auth: .tenant),
        .init(
            method: "post", path: "/api/v1/tenants/{tenant}/dashboards", summary: "Create a dashboard {name, layout?, refresh_minutes?}",
            tag: "charts", auth: .tenant, body: object(["name": "string", "layout": "array", "refresh_minutes": "integer"], required: ["name"]), success: 201),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/dashboards", summary: "The tenant's dashboards", tag: "charts", auth: .tenant),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/dashboards/{id}", summary: "A dashboard with its charts' links, refresh times and errors", tag: "charts", auth: .tenant),
        .init(
            method: "patch", path: "/api/v1/tenants/{tenant}/dashboards/{id}",
            summary: "Rename, lay out (12-column grid of {chart_id, x, y, w, h}, no overlaps) or reschedule (refresh_minutes 5–10080 or null)",
            tag: "charts", auth: .tenant, body: object(["name": "string", "layout": "array", "refresh_minutes": "integer"])),
        .init(method: "delete", path: "/api/v1/tenants/{tenant}/dashboards/{id}", summary: "Delete a dashboard (its charts stay)", tag: "charts", auth: .tenant, success: 204),
        .init(
            method: "post", path: "/api/v1/tenants/{tenant}/dashboards/{id}/charts",
            summary: "Put a saved chart ({chart_id}) or a new question's chart ({question, chart_type?}) in the first free place (w × h, default 6 × 4)",
            tag: "charts", auth: .tenant, body: object(["chart_id": "string", "question": "string", "chart_type": "string", "w": "integer", "h": "integer"]), success: 201),
        .init(method: "post", path: "/api/v1/tenants/{tenant}/dashboards/{id}/refresh", summary: "Run every chart's SQL again now", tag: "charts", auth: .tenant),
        .init(
            method: "post", path: "/api/v1/tenants/{tenant}/dashboards/{id}/share", summary: "A signed read-only link {url, path, expires_at} valid {days} (1–365, default 30)",
            tag: "charts", auth: .tenant, body: object(["days": "integer"]), success: 201),
        .init(method: "delete", path: "/api/v1/tenants/{tenant}/dashboards/{id}/share", summary: "Revoke every share link of the dashboard", tag: "charts", auth: .tenant, success: 204),
        .init(
            method: "get", path: "/share/dashboards/{token}", summary: "A shared dashboard: a page of SVG charts on its grid (?lang=en, ?theme=dark, ?format=json); 404 when invalid, expired or revoked",
            tag: "charts", auth: .none),
        .init(
            method: "post", path: "/api/v1/tenants/{tenant}/crm/sync-pipelines",
            summary: "Seed 000: queue crm.sync-pipelines (pipelines, statuses, users into the mirror) and get its job id (?integration=amocrm|bitrix24)",
            tag: "sync", auth: .tenant, success: 202),
    ]

    /// The CRM mirror, in seed 001's shapes (entity: deal, contact, lead, company, status, category, user).
    /// Seed 003: the company's app → CRM leads, with replies.
    static let peopleOperations: [Operation] = [
        .init(
            method: "post", path: "/api/v1/tenants/{tenant}/people",
            summary: "Create a person (Idempotency-Key header: a repeat returns the same person, another body under the key is a 409); queued to the CRM as a lead",
            tag: "people", auth: .tenant,
            body: object(["full_name": "string", "phone": "string", "email": "string", "stage": "string", "external_id": "string", "fields": "object"], required: ["full_name", "stage"]),
            success: 201),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/people", summary: "Live people, newest first (filters: stage, sync_status, limit, cursor)", tag: "people", auth: .tenant),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/people/{id}", summary: "One person (id or external_id) with crm: kind, lead_id, status, reason, attempts", tag: "people", auth: .tenant),
        .init(
            method: "patch", path: "/api/v1/tenants/{tenant}/people/{id}", summary: "Change a person: only the changed fields reach the lead",
            tag: "people", auth: .tenant,
            body: object(["full_name": "string", "phone": "string", "email": "string", "stage": "string", "external_id": "string", "fields": "object"])),
        .init(
            method: "post", path: "/api/v1/tenants/{tenant}/people/{id}/move", summary: "Move a person to another stage (the lead's status per the mapping)",
            tag: "people", auth: .tenant, body: object(["stage": "string"], required: ["stage"])),
        .init(method: "delete", path: "/api/v1/tenants/{tenant}/people/{id}", summary: "Soft-delete; with close_on_delete the lead moves to closed_status", tag: "people", auth: .tenant, success: 204),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/people/settings", summary: "Stage mapping, dedup policy, retries, callback (secret masked)", tag: "people", auth: .tenant),
        .init(
            method: "put", path: "/api/v1/tenants/{tenant}/people/settings",
            summary: "Change people settings (lead or deal mode); the stage mapping is checked against Bitrix24's lead statuses or the pipeline's deal stages",
            tag: "people", auth: .tenant,
            body: object([
                "entity": "string", "deal_category": "integer", "stages": "object", "dedup": "string", "allow_without_phone": "boolean", "close_on_delete": "boolean", "closed_status": "string",
                "source_id": "string", "max_attempts": "integer", "backoff_seconds": "array", "callback_url": "string", "callback_secret": "string",
            ])),
        .init(
            method: "get", path: "/api/v1/tenants/{tenant}/events",
            summary: "The people feed in order (since = last seq seen): created/updated/moved/deleted, crm.synced with bitrix_lead_id, crm.failed with reason",
            tag: "people", auth: .tenant),
    ]

    static let syncOperations: [Operation] = [
        .init(
            method: "post", path: "/api/v1/tenants/{tenant}/sync/start/{entity}",
            summary: "Start a full or incremental sync of one entity (a mirror.sync job; an existing queued or running one is returned)",
            tag: "sync", auth: .tenant, body: object(["sync_type": "string", "integration": "string"]), success: 202),
        .init(
            method: "get", path: "/api/v1/tenants/{tenant}/sync/status",
            summary: "Per entity: state, progress (rows, percent, rate, ETA), rows in the mirror, checkpoints, last error", tag: "sync", auth: .tenant),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/sync/config", summary: "Per entity: enabled, sync_interval_minutes, webhook_enabled", tag: "sync", auth: .tenant),
        .init(
            method: "put", path: "/api/v1/tenants/{tenant}/sync/config", summary: "Change one entity's schedule (the fields given)", tag: "sync",
            auth: .tenant,
            body: object(
                ["entity_type": "string", "integration": "string", "enabled": "boolean", "sync_interval_minutes": "integer", "webhook_enabled": "boolean"],
                required: ["entity_type"])),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/sync/logs", summary: "Past sync runs, newest first (filters: entity, limit)", tag: "sync", auth: .tenant),
        .init(
            method: "post", path: "/api/v1/tenants/{tenant}/webhooks/register",
            summary: "Bind Switchboard's Bitrix24 event handler (query handler_base_url, default the public URL); needs an installed app",
            tag: "sync", auth: .tenant),
        .init(
            method: "delete", path: "/api/v1/tenants/{tenant}/webhooks/unregister", summary: "Unbind Switchboard's Bitrix24 event handler",
            tag: "sync", auth: .tenant),
        .init(method: "get", path: "/api/v1/tenants/{tenant}/webhooks/registered", summary: "Event handlers registered on the portal", tag: "sync", auth: .tenant),
    ]

    /// The seed's PBX events, under `/telephony/events/` and as bare aliases for existing dialplans.
    static let telephonyOperations: [Operation] = ["start", "dial", "bridge", "hangup", "download"].flatMap { kind in
        let body = object(
            ["Token": "string", "UniqueId": "string", "CallerIDNum": "string", "ConnectedLineNum": "string", "Extensions": "array",
             "CallType": "integer", "CallStatus": "string", "StartTime": "string", "EndTime": "string", "Trunk": "string",
             "RecordUrl": "string", "Duration": "integer", "BillSec": "integer"], required: ["Token", "UniqueId"])
        let summary = "PBX call event '\(kind)' (Token = tenant PBX token; JSON or form body; duplicates are accepted and ignored)"
        return [
            Operation(method: "post", path: "/telephony/events/\(kind)", summary: summary, tag: "telephony", auth: .none, body: body),
            Operation(method: "post", path: "/\(kind)", summary: summary + " — seed alias", tag: "telephony", auth: .none, body: body),
        ]
    }

    /// What RetailCRM calls back; `clientId` (the module's, `<tenant slug>.<random>`) is the credential.
    static let retailCRMCallbacks: [Operation] = ["get", "post"].flatMap { method in
        [
            Operation(
                method: method, path: "/retailcrm/make-call",
                summary: "Click-to-call from RetailCRM (clientId, userId or code, phone): rings the manager, then dials the customer",
                tag: "retailcrm", auth: .none),
            Operation(
                method: method, path: "/retailcrm/status", summary: "A manager's status changed in RetailCRM (clientId, userId, status)",
                tag: "retailcrm", auth: .none),
        ]
    }

    /// Routing for the dialplan, the RetailCRM module, managers ↔ extensions, and the gateway cache.
    static let telephonySetup: [Operation] = [
        .init(
            method: "get", path: "/telephony/route",
            summary: "Responsible manager's extension for a caller (Token, phone, format=text|json, budget_ms); answers within the time budget",
            tag: "telephony", auth: .none),
        .init(
            method: "post", path: "/telephony/route", summary: "Same as GET /telephony/route, parameters in a form or JSON body", tag: "telephony",
            auth: .none, body: object(["Token": "string", "phone": "string", "format": "string", "budget_ms": "string"], required: ["Token", "phone"])),
        .init(
            method: "get", path: "/retailcrm/account",
            summary: "RetailCRM's \"go to account\" page for a tenant (token = the signed account link made at registration; lang=ru|en)",
            tag: "retailcrm", auth: .none),
        .init(
            method: "post", path: "/api/v1/tenants/{tenant}/integrations/{kind}/register",
            summary: "Register (or re-register) the telephony module in RetailCRM: clientId, account link, callbacks, extensions (kind = retailcrm)",
            tag: "integrations", auth: .admin, body: object(["public_url": "string", "module_code": "string"])),
        .init(
            method: "delete", path: "/api/v1/tenants/{tenant}/integrations/{kind}/register",
            summary: "Deactivate the module in RetailCRM and revoke its account link", tag: "integrations", auth: .admin),
        .init(
            method: "get", path: "/api/v1/tenants/{tenant}/managers",
            summary: "CRM users with their extensions and the PBX's extensions (integration=retailcrm)", tag: "managers", auth: .tenant),
        .init(
            method: "put", path: "/api/v1/tenants/{tenant}/managers",
            summary: "Replace the manager ↔ extension mapping (unique both ways; 409 names the conflict); pushes additionalCodes to RetailCRM",
            tag: "managers", auth: .tenant, body: object(["managers": "array"], required: ["managers"])),
        .init(
            method: "get", path: "/api/v1/tenants/{tenant}/pbx/extensions", summary: "The PBX's extensions (from AMI, else from calls)",
            tag: "managers", auth: .tenant),
        .init(
            method: "post", path: "/api/v1/cache/invalidate", summary: "Drop cached configuration in every instance (tenant: one tenant)",
            tag: "ops", auth: .superAdmin, body: object(["tenant": "string"])),
    ]

    /// Method and path of every documented operation, e.g. `GET /api/v1/tenants/{tenant}`.
    public static var documentedRoutes: Set<String> {
        Set(operations.map { "\($0.method.uppercased()) \($0.path)" })
    }

    static func document() -> [String: Any] {
        var paths: [String: [String: Any]] = [:]
        for operation in operations {
            var entry: [String: Any] = [
                "summary": operation.summary, "tags": [operation.tag],
                "operationId": operation.method + operation.path.replacingOccurrences(of: "/", with: "_")
                    .replacingOccurrences(of: "{", with: "").replacingOccurrences(of: "}", with: "")
                    .replacingOccurrences(of: ".", with: "_").replacingOccurrences(of: "-", with: "_"),
                "responses": [
                    String(operation.success): ["description": "success"],
                    "default": [
                        "description": "error",
                        "content": ["application/json": ["schema": ["$ref": "#/components/schemas/Error"]]],
                    ],
                ],
            ]
            var parameters: [[String: Any]] = []
            for name in ["tenant", "kind", "id"] where operation.path.contains("{\(name)}") {
                parameters.append([
                    "name": name, "in": "path", "required": true, "schema": ["type": "string"],
                    "description": name == "tenant" ? "tenant id or slug" : name,
                ])
            }
            if !parameters.isEmpty { entry["parameters"] = parameters }
            entry["security"] = operation.auth == .none ? [] : [["bearer": [String]()]]
            entry["x-switchboard-auth"] = "\(operation.auth)"
            if let body = operation.body {
                entry["requestBody"] = ["required": true, "content": ["application/json": ["schema": body.json]]]
            }
            paths[operation.path, default: [:]][operation.method] = entry
        }
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "Switchboard", "version": SwitchboardVersion.current,
                "description": "Asterisk and company apps ↔ Bitrix24, amoCRM, RetailCRM; SQL mirror; charts.",
            ],
            "paths": paths,
            "components": [
                "securitySchemes": [
                    "bearer": [
                        "type": "http", "scheme": "bearer",
                        "description": "admin JWT (POST /api/v1/auth/login), tenant API token (sbt_…), or external JWT",
                    ]
                ],
                "schemas": [
                    "Error": [
                        "type": "object",
                        "properties": [
                            "error": [
                                "type": "object", "required": ["code", "message"],
                                "properties": [
                                    "code": ["type": "string"], "message": ["type": "string"],
                                    "field": ["type": "string"], "request_id": ["type": "string"],
                                ],
                            ]
                        ],
                    ]
                ],
            ],
        ]
    }

    /// The document as JSON bytes.
    public static let json: [UInt8] = {
        let data = (try? JSONSerialization.data(withJSONObject: document(), options: [.sortedKeys, .prettyPrinted])) ?? Data()
        return Array(data)
    }()
}
