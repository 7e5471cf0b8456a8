/**
 * Versioned schema migrations. Each entry moves the ledger from version i to i+1 and runs inside one
 * IMMEDIATE transaction together with the `user_version` bump, so a crash leaves the old version intact.
 * Never edit a released migration: append a new one.
 *
 * Times are stored as integer milliseconds since the epoch (UTC) and rendered as RFC 3339.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'beads, dependencies, labels, comments, events, config',
    sql: `
      CREATE TABLE config (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;

      -- Every bead-id prefix in use (the town's, each rig's, imported ones), for partial-id lookups.
      CREATE TABLE prefixes (
        prefix TEXT PRIMARY KEY
      ) STRICT;

      CREATE TABLE beads (
        id                  TEXT    NOT NULL UNIQUE,
        title               TEXT    NOT NULL CHECK (length(trim(title)) BETWEEN 1 AND 500),
        description         TEXT    NOT NULL DEFAULT '',
        design              TEXT    NOT NULL DEFAULT '',
        acceptance_criteria TEXT    NOT NULL DEFAULT '',
        notes               TEXT    NOT NULL DEFAULT '',
        status              TEXT    NOT NULL DEFAULT 'open' CHECK (status IN
                              ('open','in_progress','hooked','in_review','blocked','deferred','pinned','closed')),
        priority            INTEGER NOT NULL DEFAULT 2 CHECK (priority BETWEEN 0 AND 4),
        issue_type          TEXT    NOT NULL DEFAULT 'task' CHECK (length(issue_type) BETWEEN 1 AND 50),
        assignee            TEXT,
        owner               TEXT,
        rig                 TEXT,
        estimated_minutes   INTEGER CHECK (estimated_minutes >= 0),
        created_at          INTEGER NOT NULL,
        created_by          TEXT    NOT NULL DEFAULT '',
        updated_at          INTEGER NOT NULL,
        started_at          INTEGER,
        closed_at           INTEGER,
        close_reason        TEXT,
        due_at              INTEGER,
        defer_until         INTEGER,
        external_ref        TEXT,
        metadata            TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
        -- Materialised readiness (see ledger/blocked.ts): 1 when an open blocker or a blocked parent holds it.
        is_blocked          INTEGER NOT NULL DEFAULT 0 CHECK (is_blocked IN (0, 1)),
        CHECK ((status = 'closed') = (closed_at IS NOT NULL))
      ) STRICT;

      -- The ready queue: open, unblocked beads in priority-then-age order, read without a sort.
      CREATE INDEX beads_ready ON beads (priority, created_at) WHERE status = 'open' AND is_blocked = 0;
      CREATE INDEX beads_status ON beads (status, priority, created_at);
      CREATE INDEX beads_assignee ON beads (assignee, status) WHERE assignee IS NOT NULL;
      CREATE INDEX beads_blocked ON beads (is_blocked) WHERE is_blocked = 1;
      CREATE INDEX beads_rig ON beads (rig, status) WHERE rig IS NOT NULL;

      -- "issue_id depends on depends_on_id": at most one edge per ordered pair (as in beads).
      CREATE TABLE deps (
        issue_id      TEXT    NOT NULL REFERENCES beads (id) ON DELETE CASCADE ON UPDATE CASCADE,
        depends_on_id TEXT    NOT NULL REFERENCES beads (id) ON DELETE CASCADE ON UPDATE CASCADE,
        type          TEXT    NOT NULL CHECK (length(type) BETWEEN 1 AND 50),
        created_at    INTEGER NOT NULL,
        created_by    TEXT    NOT NULL DEFAULT '',
        metadata      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
        PRIMARY KEY (issue_id, depends_on_id),
        CHECK (issue_id <> depends_on_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX deps_target ON deps (depends_on_id, type);
      -- A bead has at most one parent.
      CREATE UNIQUE INDEX deps_one_parent ON deps (issue_id) WHERE type = 'parent-child';

      CREATE TABLE labels (
        issue_id TEXT NOT NULL REFERENCES beads (id) ON DELETE CASCADE ON UPDATE CASCADE,
        label    TEXT NOT NULL CHECK (length(label) BETWEEN 1 AND 100),
        PRIMARY KEY (issue_id, label)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX labels_label ON labels (label);

      CREATE TABLE comments (
        id         INTEGER PRIMARY KEY,
        issue_id   TEXT    NOT NULL REFERENCES beads (id) ON DELETE CASCADE ON UPDATE CASCADE,
        author     TEXT    NOT NULL,
        text       TEXT    NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX comments_issue ON comments (issue_id, id);

      -- The audit trail: who changed what, when. old/new values are JSON.
      CREATE TABLE events (
        id         INTEGER PRIMARY KEY,
        issue_id   TEXT    NOT NULL,
        event_type TEXT    NOT NULL,
        actor      TEXT    NOT NULL,
        old_value  TEXT,
        new_value  TEXT,
        comment    TEXT,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX events_issue ON events (issue_id, id);
      CREATE INDEX events_time ON events (created_at);

      -- Next number for hierarchical child ids <parent>.<n>.
      CREATE TABLE child_counters (
        parent_id  TEXT    PRIMARY KEY,
        last_child INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    description: 'rigs and agents',
    sql: `
      -- The rigs of a town. Their configuration lives in rig.toml; this is their identity and state.
      CREATE TABLE rigs (
        name           TEXT    PRIMARY KEY,
        prefix         TEXT    NOT NULL UNIQUE,
        path           TEXT    NOT NULL,
        upstream       TEXT,
        default_branch TEXT    NOT NULL DEFAULT 'main',
        experimental   INTEGER NOT NULL DEFAULT 0 CHECK (experimental IN (0, 1)),
        parked         INTEGER NOT NULL DEFAULT 0 CHECK (parked IN (0, 1)),
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL
      ) STRICT;

      -- Every agent the town knows: polecats, crew, the mayor. Identity persists; sessions come and go.
      CREATE TABLE agents (
        id               TEXT    PRIMARY KEY,            -- address: 'mayor', '<rig>/<name>'
        role             TEXT    NOT NULL CHECK (role IN ('mayor','polecat','crew','refinery','witness','deacon')),
        rig              TEXT    REFERENCES rigs (name) ON UPDATE CASCADE,
        name             TEXT    NOT NULL,
        state            TEXT    NOT NULL DEFAULT 'idle'
                           CHECK (state IN ('idle','starting','working','done','stalled','zombie','stopped')),
        hooked_bead      TEXT    REFERENCES beads (id) ON UPDATE CASCADE ON DELETE SET NULL,
        worktree         TEXT,
        branch           TEXT,
        session          TEXT,                            -- session name in the runtime provider
        runtime          TEXT,                            -- 'tmux' | 'headless'
        agent            TEXT,                            -- preset name: claude, codex, sim, …
        model            TEXT,
        pid              INTEGER,
        started_at       INTEGER,
        last_activity_at INTEGER,
        restarts         INTEGER NOT NULL DEFAULT 0,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX agents_rig ON agents (rig, role, state);
      CREATE UNIQUE INDEX agents_hook ON agents (hooked_bead) WHERE hooked_bead IS NOT NULL;

      -- Work history of an agent: which beads it held, and how each ended.
      CREATE TABLE agent_history (
        id         INTEGER PRIMARY KEY,
        agent_id   TEXT    NOT NULL REFERENCES agents (id) ON UPDATE CASCADE ON DELETE CASCADE,
        bead_id    TEXT    NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at   INTEGER,
        outcome    TEXT
      ) STRICT;
      CREATE INDEX agent_history_agent ON agent_history (agent_id, id);
    `,
  },
  {
    version: 3,
    description: 'nudge queue',
    sql: `
      -- Nudges that could not be typed into a session (no session, busy, headless): delivered later at
      -- a turn boundary ('gt nudge --drain', run by agent hooks) or typed once the agent is idle.
      CREATE TABLE nudges (
        id           INTEGER PRIMARY KEY,
        agent_id     TEXT    NOT NULL REFERENCES agents (id) ON UPDATE CASCADE ON DELETE CASCADE,
        sender       TEXT    NOT NULL,
        message      TEXT    NOT NULL CHECK (length(message) BETWEEN 1 AND 16384),
        priority     TEXT    NOT NULL DEFAULT 'normal' CHECK (priority IN ('normal','urgent')),
        status       TEXT    NOT NULL DEFAULT 'queued' CHECK (status IN ('queued','delivered','expired')),
        reason       TEXT    NOT NULL,                    -- why it was queued: no_session, dead, busy, headless
        created_at   INTEGER NOT NULL,
        expires_at   INTEGER,
        delivered_at INTEGER,
        delivered_by TEXT,                                -- 'session' (typed) or 'drain' (turn boundary)
        CHECK ((status = 'delivered') = (delivered_at IS NOT NULL))
      ) STRICT;
      CREATE INDEX nudges_pending ON nudges (agent_id, id) WHERE status = 'queued';
    `,
  },
];

export const LATEST_LEDGER_VERSION = MIGRATIONS.length;
