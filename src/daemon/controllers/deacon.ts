import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isGtError } from '../../core/errors';
import { type LiveSession, orphanSessions, ownedSessionNames } from '../../core/orphans';
import {
  decideReescalation,
  type EscalationClock,
  type EscalationSeverity,
  SEVERITY_PRIORITY,
} from '../../core/reescalate';
import { oneLine } from '../../core/text';
import { prepared } from '../../ledger/open';
import { BeadStore } from '../../ledger/store';
import { nowMs } from '../../ledger/time';
import { HeadlessProvider } from '../../runtime/headless';
import { sessionName } from '../../runtime/names';
import { TmuxProvider } from '../../runtime/tmux';
import { townRuntimePaths } from '../../runtime/town-runtime';
import { reconcileConvoys } from '../../services/convoy';
import { SYSTEM_SENDER, sendMail } from '../../services/mail';
import { loadNotifyConfig, type NotifyConfig, runNotify } from '../../services/notify';
import { loadTownConfig, townConfigPath } from '../../town/config';
import { parseDuration } from '../../town/duration';
import { recordActivity } from '../activity';
import type { Controller, DaemonContext } from '../controller';

/**
 * The Deacon (docs/daemon-status.md): the town-wide caretaker. Each tick it
 *   (a) reaps orphaned sessions — tmux sessions on the town's socket and headless session records that no
 *       agent row owns — recording activity 'deacon-reap'; a session any agent row references is never
 *       touched;
 *   (b) re-escalates escalations left open (unacknowledged) past [daemon] reescalate_after, one severity
 *       higher, mailing the route again (the rule is src/core/reescalate.ts);
 *   (c) lands convoys whose beads all closed outside the Refinery and runs pending landing notifications.
 * Keeping the other controllers alive (the crash-loop breaker) is the supervisor's part of the Deacon's job.
 * Its heartbeat is its controller status in the daemon's heartbeat file (last_tick_at), shown by gt status.
 */
export const DEACON = 'deacon';
const INTERVAL_MS = 10_000;
/** A session younger than this is left alone even if nothing records it yet. */
const ORPHAN_GRACE_MS = 15_000;
const TMUX_TIMEOUT_MS = 10_000;

export interface DeaconOptions {
  intervalMs?: number;
  orphanGraceMs?: number;
}

interface Settings {
  reescalateAfterMs: number;
  notify: NotifyConfig | null;
}

interface OpenEscalationRow {
  id: string;
  severity: EscalationSeverity;
  status: 'open' | 'acked' | 'closed';
  summary: string;
  source_agent: string;
  bead_id: string | null;
  routed_to: string;
  thread_id: number | null;
  created_at: number;
  reescalations: number;
  last_reescalated_at: number | null;
}

const OPEN_ESCALATIONS = `
  SELECT e.id, e.severity, e.status, e.summary, e.source_agent, e.bead_id, e.routed_to, e.thread_id, e.created_at,
         e.reescalations,
         (SELECT max(ev.created_at) FROM events ev
           WHERE ev.issue_id = e.id AND ev.event_type = 'escalation_reescalated') AS last_reescalated_at
    FROM escalations e WHERE e.status = 'open'`;

/** Open convoys whose members are all closed, or landings whose notification is still owed. */
const CONVOY_WORK = `
  SELECT EXISTS (SELECT 1 FROM convoys c WHERE c.status = 'open'
                   AND EXISTS (SELECT 1 FROM convoy_members m WHERE m.convoy_id = c.id)
                   AND NOT EXISTS (SELECT 1 FROM convoy_members m JOIN beads b ON b.id = m.bead_id
                                    WHERE m.convoy_id = c.id AND b.status <> 'closed'))
      OR EXISTS (SELECT 1 FROM convoys WHERE notify_state = 'pending')`;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not answer in ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

export function deaconController(ctx: DaemonContext, options: DeaconOptions = {}): Controller {
  const { root, log } = ctx;
  const db = ctx.store.db;
  const store = new BeadStore(db, DEACON);
  const paths = townRuntimePaths(root);
  const tmux = new TmuxProvider({ socket: paths.socket, stateDir: paths.tmuxState });
  const headless = new HeadlessProvider(paths.headlessState);
  const intervalMs = options.intervalMs ?? INTERVAL_MS;
  const graceMs = options.orphanGraceMs ?? ORPHAN_GRACE_MS;
  let lastReapAt = 0;
  let settings: Settings = { reescalateAfterMs: 30 * 60_000, notify: null };
  let settingsStamp = -1;

  /** town.toml, re-read only when it changed (ticks come on every ledger change). */
  function loadSettings(): Settings {
    let stamp = 0;
    try {
      stamp = statSync(townConfigPath(root)).mtimeMs;
    } catch {}
    if (stamp === settingsStamp) return settings;
    settingsStamp = stamp;
    try {
      const config = loadTownConfig(root);
      settings = {
        reescalateAfterMs: parseDuration(config.daemon.reescalate_after) ?? settings.reescalateAfterMs,
        notify: loadNotifyConfig(root).config,
      };
    } catch (error) {
      log.error({ controller: DEACON, err: error }, 'town.toml unreadable: keeping the previous settings');
    }
    return settings;
  }

  function ownedNow(): Set<string> {
    const rows = prepared<[], { role: string; rig: string | null; name: string; session: string | null }>(
      db,
      'SELECT role, rig, name, session FROM agents',
    ).all();
    return ownedSessionNames(rows.map((r) => ({ session: r.session, expected: sessionName(r) })));
  }

  async function liveTmuxSessions(): Promise<LiveSession[]> {
    if (!existsSync(paths.socket)) return [];
    let result: Awaited<ReturnType<TmuxProvider['run']>>;
    try {
      result = await withTimeout(
        tmux.run(['list-sessions', '-F', '#{session_name}\t#{session_created}']),
        TMUX_TIMEOUT_MS,
        'tmux list-sessions',
      );
    } catch (error) {
      if (isGtError(error) && error.code === 'GT_E_TOOL_MISSING') return [];
      throw error;
    }
    if (result.code !== 0) return []; // no server behind the socket: no sessions
    return result.stdout
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => {
        const [name = '', created = ''] = line.split('\t');
        const seconds = Number(created);
        return { name, created_at: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : null };
      });
  }

  async function liveHeadlessSessions(): Promise<LiveSession[]> {
    const names = await headless.list();
    return names.map((name) => {
      let created: number | null = null;
      try {
        created = statSync(join(paths.headlessState, name)).mtimeMs;
      } catch {}
      return { name, created_at: created };
    });
  }

  /** (a) Orphaned sessions: killed, each recorded. Ownership is checked again right before each kill. */
  async function reap(now: number): Promise<number> {
    const tmuxLive = await liveTmuxSessions();
    const headlessLive = await liveHeadlessSessions();
    let owned = ownedNow();
    const targets: Array<{ kind: 'tmux' | 'headless'; name: string }> = [
      ...orphanSessions(tmuxLive, owned, now, graceMs).map((name) => ({ kind: 'tmux' as const, name })),
      ...orphanSessions(headlessLive, owned, now, graceMs).map((name) => ({
        kind: 'headless' as const,
        name,
      })),
    ];
    let reaped = 0;
    for (const target of targets) {
      owned = ownedNow();
      if (owned.has(target.name)) continue;
      const provider = target.kind === 'tmux' ? tmux : headless;
      await withTimeout(provider.kill(target.name), TMUX_TIMEOUT_MS, `killing session ${target.name}`);
      store.write(() =>
        recordActivity(db, {
          kind: 'deacon-reap',
          actor: DEACON,
          detail: `killed orphaned ${target.kind} session ${target.name}: no agent owns it`,
        }),
      );
      log.warn(
        { controller: DEACON, session: oneLine(target.name), runtime: target.kind },
        'reaped an orphaned session',
      );
      reaped++;
    }
    return reaped;
  }

  /** (b) One re-escalation per escalation per period; a CAS on the counter makes it exactly once. */
  async function reescalate(now: number, current: Settings): Promise<number> {
    const due = prepared<[], OpenEscalationRow>(db, OPEN_ESCALATIONS)
      .all()
      .filter((row) => decideReescalation(row as EscalationClock, now, current.reescalateAfterMs).due);
    let raised = 0;
    for (const candidate of due) {
      const done = store.write(() => {
        const row = prepared<[string], OpenEscalationRow>(db, `${OPEN_ESCALATIONS} AND e.id = ?`).get(
          candidate.id,
        );
        if (!row) return null;
        const decision = decideReescalation(row, nowMs(), current.reescalateAfterMs);
        if (!decision.due) return null;
        const changed = prepared(
          db,
          `UPDATE escalations SET severity = ?, reescalations = ?
             WHERE id = ? AND status = 'open' AND reescalations = ?`,
        ).run(decision.to, decision.reescalations, row.id, row.reescalations).changes;
        if (changed !== 1) return null;
        prepared(db, 'UPDATE beads SET priority = ?, updated_at = ? WHERE id = ?').run(
          SEVERITY_PRIORITY[decision.to],
          nowMs(),
          row.id,
        );
        store.event(
          row.id,
          'escalation_reescalated',
          { severity: decision.from, reescalations: row.reescalations },
          { severity: decision.to, reescalations: decision.reescalations },
        );
        const subject = [...`[${decision.to}] still unacknowledged: ${oneLine(row.summary)}`]
          .slice(0, 200)
          .join('');
        const body = [
          `Escalation ${row.id} from ${row.source_agent}${row.bead_id ? ` about ${row.bead_id}` : ''} has been open`,
          `without acknowledgement; the Deacon raised it from ${decision.from} to ${decision.to}`,
          `(re-escalation ${decision.reescalations}).`,
          '',
          row.summary,
          '',
          `Acknowledge: gt escalate ack ${row.id}    Close: gt escalate close ${row.id}`,
        ].join('\n');
        let route: string[] = [];
        try {
          route = JSON.parse(row.routed_to) as string[];
        } catch {}
        if (route.length === 0) route = ['mayor', 'human'];
        let threadId = row.thread_id ?? undefined;
        for (const to of route) {
          const sent = sendMail(store, {
            from: SYSTEM_SENDER,
            to,
            subject,
            body,
            kind: 'escalation',
            ...(threadId !== undefined ? { threadId } : {}),
          });
          threadId = sent.thread_id;
        }
        return { id: row.id, from: decision.from, to: decision.to, reescalations: decision.reescalations };
      });
      if (!done) continue;
      raised++;
      log.warn(
        { controller: DEACON, escalation: done.id, from: done.from, to: done.to },
        'escalation re-escalated',
      );
      if (current.notify) {
        const outcome = await runNotify(root, current.notify, {
          event: 'escalation.reescalated',
          id: done.id,
          severity: done.to,
          previous_severity: done.from,
          reescalations: done.reescalations,
        });
        if (!outcome.ok)
          log.warn({ controller: DEACON, escalation: done.id, error: outcome.error }, 'notify failed');
      }
    }
    return raised;
  }

  /** (c) Convoys that completed outside the Refinery, and owed landing notifications. */
  async function convoys(current: Settings): Promise<number> {
    const work = prepared<[], number>(db, CONVOY_WORK).pluck().get();
    if (!work) return 0;
    const result = await reconcileConvoys(store, { notify: current.notify, root });
    for (const c of result.landed) {
      log.info({ controller: DEACON, convoy: c.id, beads: c.members.length }, 'convoy landed');
    }
    for (const n of result.notified) {
      if (!n.ok) log.warn({ controller: DEACON, convoy: n.id, error: n.error }, 'convoy notify failed');
    }
    return result.landed.length + result.notified.length;
  }

  return {
    name: DEACON,
    intervalMs,
    async tick() {
      const now = Date.now();
      const current = loadSettings();
      let changed = 0;
      const errors: unknown[] = [];
      // Each duty runs even if another failed; a failure still reaches the supervisor's breaker.
      const duties: Array<[string, () => Promise<number>]> = [
        ['re-escalation', () => reescalate(now, current)],
        ['convoys', () => convoys(current)],
      ];
      // Session listing spawns tmux: at most once per interval, however often ledger changes wake us.
      if (now - lastReapAt >= intervalMs) {
        lastReapAt = now;
        duties.unshift(['reaping', () => reap(now)]);
      }
      for (const [what, duty] of duties) {
        try {
          changed += await duty();
        } catch (error) {
          log.error({ controller: DEACON, err: error }, `deacon ${what} failed`);
          errors.push(error);
        }
      }
      if (errors.length > 0) throw errors[0];
      return changed > 0;
    },
  };
}
