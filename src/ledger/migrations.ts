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
  {
    version: 4,
    description: 'convoys, mail, escalations',
    sql: `
      -- A convoy is a bead of type 'convoy' (town prefix, so 'bd show' works on it) plus this state row.
      -- It lands when every member bead is closed; landing is recorded once (status CAS in one transaction).
      CREATE TABLE convoys (
        id                 TEXT    PRIMARY KEY REFERENCES beads (id) ON UPDATE CASCADE ON DELETE CASCADE,
        status             TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open','landed','closed')),
        created_at         INTEGER NOT NULL,
        created_by         TEXT    NOT NULL,
        landed_at          INTEGER,
        closed_at          INTEGER,
        -- The town.toml [notify] command for the landing: none (not configured) → pending → running → sent|failed.
        -- Claimed by CAS on 'pending', so it runs at most once even with concurrent reconcilers.
        notify_state       TEXT    NOT NULL DEFAULT 'none'
                             CHECK (notify_state IN ('none','pending','running','sent','failed')),
        notify_started_at  INTEGER,
        notify_finished_at INTEGER,
        notify_error       TEXT,
        CHECK ((status = 'landed') = (landed_at IS NOT NULL)),
        CHECK ((status = 'closed') = (closed_at IS NOT NULL))
      ) STRICT;
      CREATE INDEX convoys_open ON convoys (created_at) WHERE status = 'open';
      CREATE INDEX convoys_notify ON convoys (notify_state) WHERE notify_state = 'pending';

      -- Which beads a convoy tracks. A bead may be in several convoys; members may come from any rig.
      CREATE TABLE convoy_members (
        convoy_id TEXT    NOT NULL REFERENCES convoys (id) ON UPDATE CASCADE ON DELETE CASCADE,
        bead_id   TEXT    NOT NULL REFERENCES beads (id) ON UPDATE CASCADE ON DELETE CASCADE,
        added_at  INTEGER NOT NULL,
        added_by  TEXT    NOT NULL,
        PRIMARY KEY (convoy_id, bead_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX convoy_members_bead ON convoy_members (bead_id);

      -- Mail. One row per recipient: a group address ('<rig>/polecats') is fanned out at send time and the
      -- group kept in via_group. thread_id is the id of the thread's first message. Bodies are stored as given.
      CREATE TABLE messages (
        id          INTEGER PRIMARY KEY,
        thread_id   INTEGER NOT NULL,
        from_addr   TEXT    NOT NULL CHECK (length(from_addr) BETWEEN 1 AND 100),
        to_addr     TEXT    NOT NULL CHECK (length(to_addr) BETWEEN 1 AND 100),
        via_group   TEXT,
        subject     TEXT    NOT NULL CHECK (length(trim(subject)) BETWEEN 1 AND 200),
        body        TEXT    NOT NULL DEFAULT '' CHECK (length(CAST(body AS BLOB)) <= 65536),
        kind        TEXT    NOT NULL DEFAULT 'message' CHECK (length(kind) BETWEEN 1 AND 50),
        created_at  INTEGER NOT NULL,
        read_at     INTEGER,
        archived_at INTEGER,
        reply_to    INTEGER REFERENCES messages (id) ON DELETE SET NULL
      ) STRICT;
      -- Inbox (newest first, archived or not) and the unread count read these without a sort.
      CREATE INDEX messages_inbox ON messages (to_addr, archived_at, id);
      CREATE INDEX messages_unread ON messages (to_addr, id) WHERE read_at IS NULL AND archived_at IS NULL;
      CREATE INDEX messages_thread ON messages (thread_id, id);
      CREATE INDEX messages_sent ON messages (from_addr, id);

      -- Escalations are beads of type 'escalation' (town prefix) plus this state row; creating one mails
      -- the Mayor and the human (routed_to, a JSON array of addresses).
      CREATE TABLE escalations (
        id             TEXT    PRIMARY KEY REFERENCES beads (id) ON UPDATE CASCADE ON DELETE CASCADE,
        severity       TEXT    NOT NULL CHECK (severity IN ('CRITICAL','HIGH','MEDIUM')),
        summary        TEXT    NOT NULL CHECK (length(trim(summary)) BETWEEN 1 AND 500),
        details        TEXT    NOT NULL DEFAULT '' CHECK (length(CAST(details AS BLOB)) <= 65536),
        source_agent   TEXT    NOT NULL,
        bead_id        TEXT    REFERENCES beads (id) ON UPDATE CASCADE ON DELETE SET NULL,
        status         TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open','acked','closed')),
        routed_to      TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(routed_to)),
        thread_id      INTEGER,
        created_at     INTEGER NOT NULL,
        acked_at       INTEGER,
        acked_by       TEXT,
        closed_at      INTEGER,
        closed_by      TEXT,
        close_reason   TEXT,
        reescalations  INTEGER NOT NULL DEFAULT 0 CHECK (reescalations >= 0),
        CHECK ((status = 'closed') = (closed_at IS NOT NULL)),
        CHECK ((acked_at IS NULL) = (acked_by IS NULL))
      ) STRICT;
      CREATE INDEX escalations_status ON escalations (status, severity, created_at);
      CREATE INDEX escalations_bead ON escalations (bead_id) WHERE bead_id IS NOT NULL;
    `,
  },
  {
    version: 5,
    description: 'merge requests and their events, handoff notes',
    sql: `
      -- A polecat branch submitted by 'gt done'. One row per (bead, head commit), so a re-run of gt done is a
      -- no-op. The Refinery owns every transition after 'queued':
      --   queued -> sheriff -> ready -> testing -> merged | rejected (rejected_reason says why).
      CREATE TABLE merge_requests (
        id              INTEGER PRIMARY KEY,
        rig             TEXT    NOT NULL REFERENCES rigs (name) ON UPDATE CASCADE,
        bead_id         TEXT    NOT NULL REFERENCES beads (id) ON UPDATE CASCADE,
        agent_id        TEXT    NOT NULL,
        branch          TEXT    NOT NULL CHECK (length(branch) BETWEEN 1 AND 255),
        head_sha        TEXT    NOT NULL CHECK (length(head_sha) BETWEEN 40 AND 64),
        base_sha        TEXT    NOT NULL CHECK (length(base_sha) BETWEEN 40 AND 64),
        state           TEXT    NOT NULL DEFAULT 'queued'
                          CHECK (state IN ('queued','sheriff','ready','testing','merged','rejected')),
        rejected_reason TEXT,
        merged_sha      TEXT,
        attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        UNIQUE (bead_id, head_sha),
        CHECK (state = 'rejected' OR rejected_reason IS NULL)
      ) STRICT;
      CREATE INDEX merge_requests_queue ON merge_requests (rig, state, id);
      CREATE INDEX merge_requests_bead ON merge_requests (bead_id, id);

      -- The trail of every MR transition: who moved it, from what, to what, and why.
      CREATE TABLE mr_events (
        id         INTEGER PRIMARY KEY,
        mr_id      INTEGER NOT NULL REFERENCES merge_requests (id) ON DELETE CASCADE,
        event      TEXT    NOT NULL CHECK (length(event) BETWEEN 1 AND 50),
        from_state TEXT,
        to_state   TEXT,
        actor      TEXT    NOT NULL,
        detail     TEXT,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX mr_events_mr ON mr_events (mr_id, id);

      -- Notes an agent leaves for its next session ('gt handoff --note'); 'gt prime' shows the latest one
      -- written while the agent held its current bead.
      CREATE TABLE handoff_notes (
        id         INTEGER PRIMARY KEY,
        agent_id   TEXT    NOT NULL REFERENCES agents (id) ON UPDATE CASCADE ON DELETE CASCADE,
        bead_id    TEXT,
        note       TEXT    NOT NULL CHECK (length(CAST(note AS BLOB)) <= 65536),
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX handoff_notes_agent ON handoff_notes (agent_id, id);
    `,
  },
  {
    version: 6,
    description: 'refinery batches and gate runs',
    sql: `
      -- The Refinery (docs/refinery.md). A batch is an ordered list of ready MRs merged onto base_sha; trees
      -- holds the tree after each MR (prefix k = main + m1..mk), so bisection never re-merges. state:
      -- active (being tested/bisected) -> landing (a tested candidate is being pushed: the CAS intent) ->
      -- done | abandoned (main moved, crash before landing: its MRs went back to 'ready').
      CREATE TABLE mq_batches (
        id             INTEGER PRIMARY KEY,
        rig            TEXT    NOT NULL,
        state          TEXT    NOT NULL DEFAULT 'active' CHECK (state IN ('active','landing','done','abandoned')),
        base_sha       TEXT    NOT NULL,
        members        TEXT    NOT NULL CHECK (json_valid(members)),
        trees          TEXT    NOT NULL CHECK (json_valid(trees)),
        commit_time    INTEGER NOT NULL,
        landing_sha    TEXT,
        landing_prefix INTEGER,
        path           TEXT    NOT NULL DEFAULT '',
        outcome        TEXT,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL,
        CHECK ((state = 'landing') <= (landing_sha IS NOT NULL))
      ) STRICT;
      CREATE INDEX mq_batches_rig ON mq_batches (rig, state, id);

      -- Every Sheriff and gate run: recorded 'running' with the candidate BEFORE it starts (the test intent),
      -- finished with its verdict. A 'running' row after a crash is 'aborted' on restart.
      CREATE TABLE gate_runs (
        id            INTEGER PRIMARY KEY,
        rig           TEXT    NOT NULL,
        kind          TEXT    NOT NULL CHECK (kind IN ('sheriff','gate')),
        batch_id      INTEGER REFERENCES mq_batches (id),
        mr_id         INTEGER,
        prefix        INTEGER,
        reason        TEXT,
        base_sha      TEXT    NOT NULL,
        candidate_sha TEXT    NOT NULL,
        state         TEXT    NOT NULL DEFAULT 'running' CHECK (state IN ('running','pass','fail','error','aborted')),
        exit_code     INTEGER,
        error         TEXT,
        pid           INTEGER,
        log_path      TEXT,
        log_tail      TEXT,
        started_at    INTEGER NOT NULL,
        finished_at   INTEGER
      ) STRICT;
      CREATE INDEX gate_runs_batch ON gate_runs (batch_id, id);
      CREATE INDEX gate_runs_candidate ON gate_runs (candidate_sha, state);

      -- The batch an MR is being tested in, and the follow-up owed after a Refinery decision (close the
      -- bead, land convoys, clean up; or hand the bead back with mail): pending until done, idempotently.
      ALTER TABLE merge_requests ADD COLUMN batch_id INTEGER;
      ALTER TABLE merge_requests ADD COLUMN followup TEXT CHECK (followup IN ('pending','done'));
      CREATE INDEX merge_requests_followup ON merge_requests (rig, id) WHERE followup = 'pending';
    `,
  },
  {
    version: 7,
    description: 'daemon: witness evidence, emergency stop, sling queue, town activity',
    sql: `
      -- The Witness's evidence and recovery ladder per agent (docs/daemon.md). progress_mark fingerprints
      -- the evidence last seen (branch head, worktree status, output sizes); progress_at is when it last
      -- changed. hook_restarts counts recovery restarts on the current hook (reset by each sling).
      ALTER TABLE agents ADD COLUMN health        TEXT;
      ALTER TABLE agents ADD COLUMN progress_mark TEXT;
      ALTER TABLE agents ADD COLUMN progress_at   INTEGER;
      ALTER TABLE agents ADD COLUMN nudged_at     INTEGER;
      ALTER TABLE agents ADD COLUMN hook_restarts INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE agents ADD COLUMN escalated_at  INTEGER;
      -- 'gt stop --all' records the state it stopped an agent in, so 'gt resume' restarts exactly those.
      ALTER TABLE agents ADD COLUMN paused_from   TEXT;

      -- Slings waiting for capacity (or for 'gt resume'); the scheduler dispatches them in priority order.
      CREATE TABLE sling_queue (
        id           INTEGER PRIMARY KEY,
        bead_id      TEXT    NOT NULL UNIQUE REFERENCES beads (id) ON UPDATE CASCADE ON DELETE CASCADE,
        target       TEXT    NOT NULL,
        agent        TEXT,
        model        TEXT,
        requested_by TEXT    NOT NULL,
        created_at   INTEGER NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        last_error   TEXT
      ) STRICT;

      -- What the daemon's controllers did (recoveries, dispatches, stops), for 'gt feed' and 'gt status'.
      CREATE TABLE activity (
        id     INTEGER PRIMARY KEY,
        at     INTEGER NOT NULL,
        kind   TEXT    NOT NULL CHECK (length(kind) BETWEEN 1 AND 50),
        actor  TEXT    NOT NULL,
        rig    TEXT,
        agent  TEXT,
        bead   TEXT,
        detail TEXT    NOT NULL DEFAULT ''
      ) STRICT;
      CREATE INDEX activity_kind ON activity (kind, id);
    `,
  },
  {
    version: 8,
    description: 'refinery: a red batch lands its green prefix early; the rest carries its red verdicts',
    sql: `
      -- A red batch whose tested-green prefix lands before its bisection ends continues as a new batch on
      -- the landed commit (parent_id). Its trees are the parent's (the same merges onto the same tree), so
      -- the parent's red verdicts above the prefix carry over, shifted: inherited is their JSON list.
      ALTER TABLE mq_batches ADD COLUMN parent_id INTEGER REFERENCES mq_batches (id);
      ALTER TABLE mq_batches ADD COLUMN inherited TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(inherited));
    `,
  },
];

export const LATEST_LEDGER_VERSION = MIGRATIONS.length;
