import { GtError } from '../core/errors';
import { byteLength } from '../core/text';
import { prepared } from '../ledger/open';
import type { BeadStore } from '../ledger/store';
import { nowMs } from '../ledger/time';
import { restartAgentSession } from './agent-sessions';
import { getAgent, type Identity } from './polecats';
import { insideSession, polecatSessionEnv, spawnAfterHelper } from './work-sessions';

/**
 * `gt handoff [--note …]`: restart my session with a fresh context, keeping the hook, the checkout and a
 * note to myself. The note is stored (handoff_notes) and shown by the next `gt prime`. From inside the
 * session the restart is done by a detached helper once this command has exited (a restart kills the
 * session's whole process tree, this command included).
 */
export interface HandoffResult {
  agent: string;
  hooked_bead: string | null;
  note_id: number | null;
  restart: 'scheduled' | 'restarted';
  session: string | null;
}

export const MAX_NOTE_BYTES = 64 * 1024;

export async function handoff(
  root: string,
  store: BeadStore,
  identity: Identity,
  note: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<HandoffResult> {
  const db = store.db;
  if (!identity.agent) {
    throw new GtError(
      'GT_E_NOT_AN_AGENT',
      'gt handoff is run by an agent (or name one: gt handoff <agent>)',
      {
        hint: 'inside an agent session GT_AGENT says who you are',
      },
    );
  }
  const row = getAgent(db, identity.agent);
  if (!row) {
    throw new GtError('GT_E_NOT_AN_AGENT', `no agent ${identity.agent} in this town`, {
      hint: "see 'gt agents'",
    });
  }
  let noteId: number | null = null;
  if (note !== undefined && note.trim().length > 0) {
    if (byteLength(note) > MAX_NOTE_BYTES) {
      throw new GtError('GT_E_TOO_LARGE', `the note is over ${MAX_NOTE_BYTES} bytes`, {
        hint: 'keep handoff notes short: state, next step, open questions',
      });
    }
    noteId = Number(
      prepared(db, 'INSERT INTO handoff_notes (agent_id, bead_id, note, created_at) VALUES (?, ?, ?, ?)').run(
        row.id,
        row.hooked_bead,
        note,
        nowMs(),
      ).lastInsertRowid,
    );
  }
  if (insideSession(row, env)) {
    spawnAfterHelper('restart', row.id, env);
    return {
      agent: row.id,
      hooked_bead: row.hooked_bead,
      note_id: noteId,
      restart: 'scheduled',
      session: row.session,
    };
  }
  const started = await restartAgentSession(root, db, row, { env: polecatSessionEnv(root, db, row) });
  return {
    agent: row.id,
    hooked_bead: row.hooked_bead,
    note_id: noteId,
    restart: 'restarted',
    session: started.session,
  };
}
