"""The bank's SQLite schema as named, forward-only migrations.

Migrations are applied in list order and recorded by name in `schema_migrations`, so features
developed apart can each append their own without fighting over a version number. Never edit
a migration that has shipped: append a new one.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "READ_OPTIONAL", "SCHEMA_FAMILY"]

SCHEMA_FAMILY = "hashwarden-bank"

#: Migrations that only add tables whose readers check for them first: a bank opened read-only
#: without them reads as before (they are applied when it is next opened for writing).
READ_OPTIONAL = frozenset(
    {
        "0600-agents",
        "0700-programme-exchanges",
        "1500-entry-views",
        "1600-console-sessions",
        "1700-match-days",
        "1800-programme-votes",
    }
)

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001-core",
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE entries (
            id INTEGER PRIMARY KEY,
            category TEXT NOT NULL,
            series TEXT,
            victim_identified INTEGER NOT NULL DEFAULT 0,
            source TEXT,
            first_seen TEXT,
            added TEXT NOT NULL,
            note TEXT,
            extra TEXT NOT NULL DEFAULT '{}',
            version INTEGER NOT NULL,
            digest TEXT NOT NULL
        );
        CREATE INDEX entries_version ON entries(version);
        CREATE TABLE signals (
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
            PRIMARY KEY (kind, value)
        ) WITHOUT ROWID;
        CREATE INDEX signals_entry ON signals(entry_id);
        CREATE TABLE known_good_sets (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            source TEXT,
            added TEXT NOT NULL
        );
        CREATE TABLE known_good (
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            set_id INTEGER NOT NULL REFERENCES known_good_sets(id) ON DELETE CASCADE,
            PRIMARY KEY (kind, value, set_id)
        ) WITHOUT ROWID;
        CREATE TABLE audit (
            seq INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL,
            prev TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        """,
    ),
    (
        "0300-trust",
        """
        CREATE TABLE trusted_keys (
            name TEXT PRIMARY KEY,
            public_key TEXT NOT NULL UNIQUE,
            added TEXT NOT NULL,
            revoked TEXT
        );
        CREATE TABLE bundle_state (
            origin TEXT PRIMARY KEY,
            last_sequence INTEGER NOT NULL,
            key_name TEXT NOT NULL,
            applied TEXT NOT NULL
        );
        """,
    ),
    (
        "0200-events",
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            channel TEXT NOT NULL,
            outcome TEXT NOT NULL,
            category TEXT,
            series TEXT,
            victim_identified INTEGER NOT NULL DEFAULT 0,
            region TEXT,
            count INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX events_at ON events(at)
        """,
    ),
    (
        "0310-provenance",
        """
        CREATE TABLE provenance (
            entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
            org TEXT NOT NULL,
            category TEXT NOT NULL,
            list_name TEXT,
            imported TEXT NOT NULL,
            PRIMARY KEY (entry_id, org)
        );
        CREATE TABLE votes (
            entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
            org TEXT NOT NULL,
            vote TEXT NOT NULL,
            reason TEXT,
            at TEXT NOT NULL,
            PRIMARY KEY (entry_id, org)
        )
        """,
    ),
    (
        "0500-service",
        """
        CREATE TABLE api_keys (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            rate_per_minute INTEGER,
            created TEXT NOT NULL,
            revoked TEXT
        );
        CREATE TABLE named_banks (
            name TEXT PRIMARY KEY,
            threshold INTEGER,
            negative INTEGER NOT NULL DEFAULT 0,
            enabled_ratio REAL NOT NULL DEFAULT 1.0,
            disabled_until TEXT,
            created TEXT NOT NULL,
            note TEXT
        );
        CREATE TABLE named_bank_entries (
            bank TEXT NOT NULL REFERENCES named_banks(name) ON DELETE CASCADE,
            entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
            disabled_until TEXT,
            added TEXT NOT NULL,
            PRIMARY KEY (bank, entry_id)
        );
        CREATE INDEX named_bank_entries_entry ON named_bank_entries(entry_id)
        """,
    ),
    (
        "0400-actions",
        """
        CREATE TABLE action_rules (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            bank TEXT,
            categories TEXT,
            max_distance INTEGER,
            webhook_url TEXT,
            webhook_secret TEXT,
            report INTEGER NOT NULL DEFAULT 0,
            enabled INTEGER NOT NULL DEFAULT 1,
            created TEXT NOT NULL
        );
        CREATE TABLE action_reports (
            id INTEGER PRIMARY KEY,
            event TEXT NOT NULL UNIQUE,
            created TEXT NOT NULL,
            incident_time TEXT,
            uploader_ref TEXT,
            hashes TEXT NOT NULL,
            category TEXT NOT NULL,
            matches TEXT NOT NULL,
            rules TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            reviewer TEXT,
            reviewed TEXT,
            review_note TEXT
        );
        CREATE INDEX action_reports_status ON action_reports(status, id);
        CREATE TABLE action_deliveries (
            id INTEGER PRIMARY KEY,
            rule_id INTEGER NOT NULL,
            event TEXT NOT NULL,
            url TEXT NOT NULL,
            body TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt TEXT NOT NULL,
            last_error TEXT,
            created TEXT NOT NULL,
            delivered TEXT
        );
        CREATE INDEX action_deliveries_due ON action_deliveries(status, next_attempt)
        """,
    ),
    (
        "0320-key-origins",
        """
        CREATE TABLE trusted_key_origins (
            origin TEXT PRIMARY KEY,
            key_name TEXT NOT NULL REFERENCES trusted_keys(name),
            bound TEXT NOT NULL,
            how TEXT NOT NULL
        );
        CREATE INDEX trusted_key_origins_key ON trusted_key_origins(key_name)
        """,
    ),
    (
        "0410-match-suspensions",
        """
        CREATE TABLE match_suspensions (
            key_name TEXT PRIMARY KEY,
            entry_id INTEGER NOT NULL,
            since TEXT NOT NULL,
            until TEXT NOT NULL,
            queries INTEGER NOT NULL,
            strikes INTEGER NOT NULL DEFAULT 1
        )
        """,
    ),
    (
        "0600-agents",
        """
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            idempotency_key TEXT NOT NULL UNIQUE,
            agent TEXT NOT NULL,
            key_name TEXT NOT NULL,
            host TEXT NOT NULL,
            os_user TEXT,
            path TEXT NOT NULL,
            size INTEGER,
            times TEXT NOT NULL,
            hashes TEXT NOT NULL,
            sha256 TEXT,
            matches TEXT NOT NULL,
            category TEXT NOT NULL,
            noticed_by TEXT,
            agent_version TEXT,
            bank_version TEXT,
            detected TEXT,
            received TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'open',
            decided_by TEXT,
            decided TEXT,
            note TEXT
        );
        CREATE INDEX alerts_agent ON alerts(agent, id);
        CREATE INDEX alerts_received ON alerts(received);
        CREATE INDEX alerts_status ON alerts(status, id);
        CREATE TABLE agents (
            agent TEXT PRIMARY KEY,
            key_name TEXT NOT NULL,
            host TEXT NOT NULL,
            agent_version TEXT,
            bank_version TEXT,
            interval_s REAL NOT NULL,
            first_seen TEXT NOT NULL,
            last_heartbeat TEXT NOT NULL,
            report TEXT NOT NULL DEFAULT '{}'
        )
        """,
    ),
    (
        "0700-programme-exchanges",
        """
        CREATE TABLE programme_exchanges (
            name TEXT PRIMARY KEY,
            api TEXT NOT NULL,
            named_bank TEXT NOT NULL,
            config TEXT NOT NULL,
            credentials TEXT,
            category TEXT NOT NULL,
            checkpoint TEXT,
            fetched TEXT,
            created TEXT NOT NULL
        );
        CREATE TABLE programme_records (
            exchange TEXT NOT NULL REFERENCES programme_exchanges(name) ON DELETE CASCADE,
            record TEXT NOT NULL,
            entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
            PRIMARY KEY (exchange, record, entry_id)
        );
        CREATE INDEX programme_records_entry ON programme_records(entry_id)
        """,
    ),
    (
        "1500-entry-views",
        """
        CREATE TABLE entry_views (
            entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
            view TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (entry_id, view)
        )
        """,
    ),
    (
        "1600-console-sessions",
        """
        CREATE TABLE console_sessions (
            token_hash TEXT PRIMARY KEY,
            key_name TEXT NOT NULL,
            created TEXT NOT NULL,
            seen TEXT NOT NULL,
            flash TEXT
        );
        CREATE INDEX console_sessions_seen ON console_sessions(seen)
        """,
    ),
    (
        # Look-ups the service answered with a match, by UTC day (service/tally.py).
        "1700-match-days",
        """
        CREATE TABLE match_days (
            day TEXT PRIMARY KEY,
            matches BIGINT NOT NULL
        )
        """,
    ),
    (
        "1800-programme-votes",
        """
        CREATE TABLE programme_votes (
            id INTEGER PRIMARY KEY,
            report_id INTEGER NOT NULL,
            exchange TEXT NOT NULL,
            record TEXT NOT NULL,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            vote TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt TEXT NOT NULL,
            last_error TEXT,
            created TEXT NOT NULL,
            delivered TEXT,
            UNIQUE (report_id, exchange, record, kind)
        );
        CREATE INDEX programme_votes_due ON programme_votes(status, next_attempt)
        """,
    ),
]
