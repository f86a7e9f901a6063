-- An event store written by mandate-rules at schema 1 (before events.content_hash),
-- by its own Store and Worker: three events of tests/service/packs.py's v1 rules.
PRAGMA user_version = 1;
BEGIN TRANSACTION;
CREATE TABLE advisories (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    event_seq INTEGER NOT NULL REFERENCES events (seq),
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    subject TEXT,
    source TEXT NOT NULL,
    country TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    raised_ts REAL NOT NULL,
    rules_version TEXT NOT NULL,
    rules_hash TEXT NOT NULL,
    match_key TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    stored_at TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (tenant, id)
);
INSERT INTO "advisories" VALUES(1,'default','adv-2c5fe72882469239be087675f3566c5a',1,'STL-001','warning',NULL,'test://schema-1','SOM','2026-11-01T08:00:00Z',1793520000.0,'1.0.0','416402df8f2d56c4671c3252a4bf69b635de61865263f9725ac3a04c422172bd','bc3e7aac9457cf67b3f94692eaf61952','open','2026-12-04T16:23:15.208Z','{"id":"adv-2c5fe72882469239be087675f3566c5a","rule_id":"STL-001","title":"armed escort","severity":"warning","base_severity":"warning","severity_reasons":[],"advice":"advice of STL-001","actions":["act"],"references":[{"source":"test source","checked":"U"}],"subject":null,"source":"test://schema-1","country":"SOM","area":null,"evidence":[{"source":"test://schema-1","id":"v1-escort","type":"escort.request","time":"2026-11-01T08:00:00Z"}],"explanation":[{"condition":"armed is true","held":true,"value":true,"field":"armed"}],"rules_version":{"version":"1.0.0","hash":"416402df8f2d56c4671c3252a4bf69b635de61865263f9725ac3a04c422172bd"},"raised_at":"2026-11-01T08:00:00Z","trigger":"main","context_known":false,"context_version":null}');
CREATE TABLE decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_ts REAL NOT NULL,
    event_seq INTEGER NOT NULL REFERENCES events (seq),
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('evaluated', 'duplicate')),
    rules_version TEXT NOT NULL,
    rules_hash TEXT NOT NULL,
    advisory_ids TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    shadow_version TEXT,
    shadow_hash TEXT,
    shadow_advisory_ids TEXT,
    shadow_error TEXT
);
INSERT INTO "decisions" VALUES(1,'default','2026-12-04T16:23:15.208Z',1.7964013952087209225e+09,1,'test://schema-1','v1-escort','escort.request','evaluated','1.0.0','416402df8f2d56c4671c3252a4bf69b635de61865263f9725ac3a04c422172bd','["adv-2c5fe72882469239be087675f3566c5a"]',0.399,NULL,NULL,NULL,NULL);
INSERT INTO "decisions" VALUES(2,'default','2026-12-04T16:23:15.209Z',1.79640139520981788638e+09,2,'test://schema-1','v1-flight-1','asset.request','evaluated','1.0.0','416402df8f2d56c4671c3252a4bf69b635de61865263f9725ac3a04c422172bd','[]',0.156,NULL,NULL,NULL,NULL);
INSERT INTO "decisions" VALUES(3,'default','2026-12-04T16:23:15.210Z',1.79640139521064496038e+09,3,'test://schema-1','v1-flight-2','asset.request','evaluated','1.0.0','416402df8f2d56c4671c3252a4bf69b635de61865263f9725ac3a04c422172bd','[]',0.103,NULL,NULL,NULL,NULL);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('event', 'tick')),
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    country TEXT NOT NULL,
    time TEXT NOT NULL,
    received_at TEXT NOT NULL,
    body TEXT NOT NULL,
    rules_version TEXT NOT NULL,
    rules_hash TEXT NOT NULL,
    advisory_ids TEXT NOT NULL,
    UNIQUE (tenant, source, id)
);
INSERT INTO "events" VALUES(1,'default','event','test://schema-1','v1-escort','escort.request','SOM','2026-11-01T08:00:00Z','2026-12-04T16:23:15.208Z','{"specversion":"1.0","id":"v1-escort","source":"test://schema-1","type":"escort.request","time":"2026-11-01T08:00:00Z","country":"SOM","data":{"org":{"id":"org-1","kind":"ingo"},"armed":true}}','1.0.0','416402df8f2d56c4671c3252a4bf69b635de61865263f9725ac3a04c422172bd','["adv-2c5fe72882469239be087675f3566c5a"]');
INSERT INTO "events" VALUES(2,'default','event','test://schema-1','v1-flight-1','asset.request','SOM','2026-11-02T08:00:00Z','2026-12-04T16:23:15.209Z','{"specversion":"1.0","id":"v1-flight-1","source":"test://schema-1","type":"asset.request","time":"2026-11-02T08:00:00Z","country":"SOM","data":{"org":{"id":"org-v1","kind":"ingo"},"asset":{"owner_kind":"mission_military"}}}','1.0.0','416402df8f2d56c4671c3252a4bf69b635de61865263f9725ac3a04c422172bd','[]');
INSERT INTO "events" VALUES(3,'default','event','test://schema-1','v1-flight-2','asset.request','SOM','2026-11-03T08:00:00Z','2026-12-04T16:23:15.210Z','{"specversion":"1.0","id":"v1-flight-2","source":"test://schema-1","type":"asset.request","time":"2026-11-03T08:00:00Z","country":"SOM","data":{"org":{"id":"org-v1","kind":"ingo"},"asset":{"owner_kind":"mission_military"}}}','1.0.0','416402df8f2d56c4671c3252a4bf69b635de61865263f9725ac3a04c422172bd','[]');
CREATE TABLE resolutions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    advisory_id TEXT NOT NULL,
    decision TEXT NOT NULL,
    text TEXT,
    decided_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    FOREIGN KEY (tenant, advisory_id) REFERENCES advisories (tenant, id)
);
CREATE TABLE shadow_advisories (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    event_seq INTEGER NOT NULL REFERENCES events (seq),
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    rules_version TEXT NOT NULL,
    rules_hash TEXT NOT NULL,
    match_key TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (tenant, id)
);
CREATE TABLE snapshots (
    tenant TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    rules_hash TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    clocks TEXT NOT NULL,
    body TEXT NOT NULL
);
INSERT INTO "snapshots" VALUES('default',3,'416402df8f2d56c4671c3252a4bf69b635de61865263f9725ac3a04c422172bd','2026-12-04T16:23:15.211Z','{"SOM":"2026-11-03T08:00:00Z"}','{"format":"mandate-rules/state@1","rules_version":{"version":"1.0.0","hash":"416402df8f2d56c4671c3252a4bf69b635de61865263f9725ac3a04c422172bd"},"operations":{"SOM":{"clock":1793692800.0,"windows":[[[1,0],[[["org-v1"],[[1793606400.0,{"source":"test://schema-1","id":"v1-flight-1","type":"asset.request","time":"2026-11-02T08:00:00Z"}],[1793692800.0,{"source":"test://schema-1","id":"v1-flight-2","type":"asset.request","time":"2026-11-03T08:00:00Z"}]]]]]],"priors":[],"pending":[],"seen":[[1793520000.0,"test://schema-1","v1-escort"],[1793606400.0,"test://schema-1","v1-flight-1"],[1793692800.0,"test://schema-1","v1-flight-2"]],"context_overlay":{},"area_overlays":{},"context_update":null,"next_sweep":1793779200.0,"seq":0}}}');
CREATE INDEX events_by_tenant ON events (tenant, seq);
CREATE INDEX advisories_by_rule ON advisories (tenant, rule_id, seq);
CREATE INDEX advisories_by_subject ON advisories (tenant, subject, seq);
CREATE INDEX advisories_by_time ON advisories (tenant, raised_ts);
CREATE INDEX resolutions_by_advisory ON resolutions (tenant, advisory_id, seq);
CREATE INDEX decisions_by_tenant ON decisions (tenant, seq);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('events',3);
INSERT INTO "sqlite_sequence" VALUES('advisories',1);
INSERT INTO "sqlite_sequence" VALUES('decisions',3);
COMMIT;
