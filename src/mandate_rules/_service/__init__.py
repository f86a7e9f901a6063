"""The HTTP sidecar: `mandate-rules serve`, for platforms that are not written in Python.

A Starlette application served by uvicorn in one process. Every engine call and every
write to the store runs on one worker thread (`_worker`), so the engine is never entered
twice at once and a 2xx is sent only after the event and its advisories are committed.

| module | does |
| --- | --- |
| `_config` | settings from flags, a TOML or YAML file and the environment; bearer tokens |
| `_auth` | a bearer token to a tenant and its roles |
| `_errors` | the JSON error body and its stable codes |
| `_bundles` | loading the live and candidate rule packs |
| `_http` | reading bodies (size limit, media types, JSON) and query parameters |
| `_intake` | events from bodies: validation, the service's limits, batches all or nothing |
| `_dbfile` | opening the store's database: a SQLite file or a PostgreSQL database |
| `_leases` | replicas on PostgreSQL: a lease row per operation, with a fencing token |
| `_ownership` | the engine thread's leases: what it judges, taking over, fencing each commit |
| `_replicas` | replicas: a job routed to its operation's holder, the lease renewer, reloads |
| `_schema` | the store's tables and the versioned migrations, run under a lock |
| `_rows` | the rows the store writes and reads back, and the JSON text it keeps |
| `_store` | the one writer: transactions, a group's events, advisories and decisions, replay |
| `_reads` | the readers, any thread: advisories, the decision log, the shadow diff |
| `_jobs` | the engine thread's jobs, and what a submitted event gets back |
| `_tenants` | the tenants' engines: rebuilt from the log, baselines, snapshots, reload |
| `_retention` | `retain_days`: the old events and decisions a snapshot covers, deleted in chunks |
| `_evaluator` | a job on the engines: events, re-deliveries and conflicts, ticks, writes gathered |
| `_worker` | the engine thread: the queue, groups of jobs and their one commit |
| `_metrics` | Prometheus text exposition, written by hand |
| `_openapi` | the OpenAPI 3 document |
| `_views` | JSON shapes of rules and advisories for the API |
| `_app` | the routes |
| `_console` | the console for people, `/ui/` (a package: pages, sessions, templates) |
| `_cli` | the `serve` command |

Nothing here is public API: the service is reached over HTTP, or started with `serve`.
"""

from ._app import create_app
from ._config import ServiceConfig

__all__ = ["ServiceConfig", "create_app"]
