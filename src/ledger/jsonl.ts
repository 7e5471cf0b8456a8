import { type Bead, MAX_TEXT_BYTES, parseIssueType, STATUSES } from '../core/bead';
import { GtError } from '../core/errors';
import { describeCycle, findCycle } from '../core/graph';
import { isWellFormedId, prefixOf } from '../core/ids';
import { type BeadJson, beadToJson, commentToJson, dependencyToJson } from './serialize';
import type { BeadStore } from './store';
import { nowMs, parseTime } from './time';

/**
 * JSONL interchange in the beads format: one `{"_type":"issue", …}` object per line with labels,
 * outgoing dependencies and comments inline. Export is sorted by id so diffs stay small.
 */
export function* exportLines(store: BeadStore, options: { includeClosed?: boolean } = {}): Generator<string> {
  const db = store.db;
  const beads = db
    .prepare<[], Bead>(
      `SELECT * FROM beads ${options.includeClosed === false ? "WHERE status <> 'closed'" : ''} ORDER BY id`,
    )
    .iterate();
  for (const bead of beads) {
    const json: BeadJson = { _type: 'issue', ...beadToJson(bead, store.labelsOf(bead.id)) };
    const deps = store.dependenciesOf(bead.id);
    if (deps.length > 0) json.dependencies = deps.map(dependencyToJson);
    const comments = store.commentsOf(bead.id);
    if (comments.length > 0) json.comments = comments.map(commentToJson);
    yield JSON.stringify(json);
  }
}

export interface ImportResult {
  created: number;
  updated: number;
  skipped: number;
  skipped_dependencies: Array<{ issue_id: string; depends_on_id: string; reason: string }>;
  ids: string[];
}

interface ParsedIssue {
  line: number;
  bead: Omit<Bead, 'is_blocked'>;
  labels: string[];
  deps: Array<{ depends_on_id: string; type: string; created_at: number; created_by: string }>;
  comments: Array<{ author: string; text: string; created_at: number }>;
}

const KNOWN_EDGE_TYPES = new Set([
  'blocks',
  'parent-child',
  'related',
  'relates-to',
  'discovered-from',
  'conditional-blocks',
]);

/** Imports JSONL (already decoded) atomically: every line is validated before anything is written. */
export function importJsonl(store: BeadStore, text: string, source: string): ImportResult {
  const parsed: ParsedIssue[] = [];
  let skipped = 0;
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const raw = lines[index]!.trim();
    if (raw.length === 0) continue;
    const issue = parseLine(raw, index + 1, source);
    if (issue === 'skip') skipped++;
    else parsed.push(issue);
  }
  const seen = new Set<string>();
  for (const issue of parsed) {
    if (seen.has(issue.bead.id)) throw importError(source, issue.line, `duplicate id ${issue.bead.id}`);
    seen.add(issue.bead.id);
  }

  return store.write(() => {
    const db = store.db;
    const exists = db.prepare<[string], string>('SELECT id FROM beads WHERE id = ?').pluck();
    const upsert = db.prepare(
      `INSERT INTO beads (id, title, description, design, acceptance_criteria, notes, status, priority, issue_type,
         assignee, owner, rig, estimated_minutes, created_at, created_by, updated_at, started_at, closed_at,
         close_reason, due_at, defer_until, external_ref, metadata)
       VALUES (@id, @title, @description, @design, @acceptance_criteria, @notes, @status, @priority, @issue_type,
         @assignee, @owner, @rig, @estimated_minutes, @created_at, @created_by, @updated_at, @started_at, @closed_at,
         @close_reason, @due_at, @defer_until, @external_ref, @metadata)
       ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description,
         design = excluded.design, acceptance_criteria = excluded.acceptance_criteria, notes = excluded.notes,
         status = excluded.status, priority = excluded.priority, issue_type = excluded.issue_type,
         assignee = excluded.assignee, owner = excluded.owner, rig = excluded.rig,
         estimated_minutes = excluded.estimated_minutes, updated_at = excluded.updated_at,
         started_at = excluded.started_at, closed_at = excluded.closed_at, close_reason = excluded.close_reason,
         due_at = excluded.due_at, defer_until = excluded.defer_until, external_ref = excluded.external_ref,
         metadata = excluded.metadata`,
    );
    const clearLabels = db.prepare('DELETE FROM labels WHERE issue_id = ?');
    const addLabel = db.prepare('INSERT OR IGNORE INTO labels (issue_id, label) VALUES (?, ?)');
    const clearDeps = db.prepare('DELETE FROM deps WHERE issue_id = ?');
    const addDep = db.prepare(
      'INSERT OR REPLACE INTO deps (issue_id, depends_on_id, type, created_at, created_by) VALUES (?, ?, ?, ?, ?)',
    );
    const hasComment = db
      .prepare('SELECT 1 FROM comments WHERE issue_id = ? AND author = ? AND text = ? AND created_at = ?')
      .pluck();
    const addComment = db.prepare(
      'INSERT INTO comments (issue_id, author, text, created_at) VALUES (?, ?, ?, ?)',
    );
    const result: ImportResult = { created: 0, updated: 0, skipped, skipped_dependencies: [], ids: [] };
    const prefixes = new Set<string>();

    for (const issue of parsed) {
      const existed = exists.get(issue.bead.id) !== undefined;
      upsert.run(issue.bead);
      if (existed) result.updated++;
      else result.created++;
      result.ids.push(issue.bead.id);
      prefixes.add(prefixOf(issue.bead.id));
      clearLabels.run(issue.bead.id);
      for (const label of issue.labels) addLabel.run(issue.bead.id, label);
      for (const c of issue.comments) {
        if (!hasComment.get(issue.bead.id, c.author, c.text, c.created_at)) {
          addComment.run(issue.bead.id, c.author, c.text, c.created_at);
        }
      }
      store.event(issue.bead.id, existed ? 'imported_update' : 'imported', null, { source });
    }
    // Edges after all beads exist, so lines may reference beads later in the file.
    for (const issue of parsed) {
      clearDeps.run(issue.bead.id);
      let parents = 0;
      for (const dep of issue.deps) {
        const skip = (reason: string) =>
          result.skipped_dependencies.push({
            issue_id: issue.bead.id,
            depends_on_id: dep.depends_on_id,
            reason,
          });
        if (!KNOWN_EDGE_TYPES.has(dep.type)) skip(`unsupported dependency type '${dep.type}'`);
        else if (dep.depends_on_id === issue.bead.id) skip('self-dependency');
        else if (exists.get(dep.depends_on_id) === undefined) skip('target bead not in the ledger');
        else if (dep.type === 'parent-child' && parents++ > 0) skip('a bead can have only one parent');
        else {
          const type = dep.type === 'relates-to' ? 'related' : dep.type;
          addDep.run(issue.bead.id, dep.depends_on_id, type, dep.created_at, dep.created_by);
        }
      }
    }
    refuseImportedCycles(store, source);
    for (const prefix of prefixes) if (prefix) store.registerPrefix(prefix);
    store.rebuildBlocked();
    return result;
  });
}

function refuseImportedCycles(store: BeadStore, source: string): void {
  const edges = store.db
    .prepare<[], { issue_id: string; depends_on_id: string }>(
      "SELECT issue_id, depends_on_id FROM deps WHERE type IN ('blocks','conditional-blocks','parent-child')",
    )
    .iterate();
  const cycle = findCycle(
    (function* () {
      for (const edge of edges) yield [edge.issue_id, edge.depends_on_id] as const;
    })(),
  );
  if (cycle) {
    throw new GtError(
      'GT_E_CYCLE',
      `${source}: the imported dependencies contain a cycle: ${describeCycle(cycle)}`,
      {
        hint: 'remove one edge of the cycle in the file and import again; nothing was imported',
        details: { cycle },
      },
    );
  }
}

function parseLine(raw: string, line: number, source: string): ParsedIssue | 'skip' {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw importError(source, line, `not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw importError(source, line, 'expected a JSON object');
  }
  const record = value as Record<string, unknown>;
  const kind = record._type ?? 'issue';
  if (kind === 'memory' || record.status === 'tombstone') return 'skip';
  if (kind !== 'issue') throw importError(source, line, `unknown _type '${String(kind)}'`);

  const str = (key: string): string => {
    const v = record[key];
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw importError(source, line, `field '${key}' must be a string`);
    if (Buffer.byteLength(v) > MAX_TEXT_BYTES)
      throw importError(source, line, `field '${key}' is over 1 MiB`);
    return v;
  };
  const id = str('id').toLowerCase();
  if (!isWellFormedId(id)) throw importError(source, line, `invalid id '${str('id')}'`);
  const title = str('title').trim();
  if (title.length === 0 || [...title].length > 500) {
    throw importError(source, line, `${id}: title must be 1-500 characters`);
  }
  const statusText = str('status') || 'open';
  if (!(STATUSES as readonly string[]).includes(statusText)) {
    throw importError(source, line, `${id}: unknown status '${statusText}'`);
  }
  const priority = record.priority ?? 2;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > 4) {
    throw importError(source, line, `${id}: priority must be an integer 0-4`);
  }
  let issueType: string;
  try {
    issueType = parseIssueType(str('issue_type') || 'task');
  } catch {
    throw importError(source, line, `${id}: unknown issue_type '${str('issue_type')}'`);
  }
  const now = nowMs();
  const created = parseTime(record.created_at) ?? now;
  const updated = parseTime(record.updated_at) ?? created;
  const closedAt = statusText === 'closed' ? (parseTime(record.closed_at) ?? updated) : null;
  const metadata = record.metadata === undefined || record.metadata === null ? {} : record.metadata;
  if (typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw importError(source, line, `${id}: metadata must be a JSON object`);
  }
  const labels = Array.isArray(record.labels)
    ? record.labels
        .map(String)
        .map((l) => l.trim())
        .filter(Boolean)
    : [];
  const deps = Array.isArray(record.dependencies)
    ? record.dependencies.map((d) => {
        const dep = d as Record<string, unknown>;
        return {
          depends_on_id: String(dep.depends_on_id ?? '').toLowerCase(),
          type: String(dep.type ?? 'blocks'),
          created_at: parseTime(dep.created_at) ?? created,
          created_by: typeof dep.created_by === 'string' ? dep.created_by : '',
        };
      })
    : [];
  const comments = Array.isArray(record.comments)
    ? record.comments.map((c) => {
        const comment = c as Record<string, unknown>;
        return {
          author: String(comment.author ?? ''),
          text: String(comment.text ?? ''),
          created_at: parseTime(comment.created_at) ?? created,
        };
      })
    : [];
  const estimate = record.estimated_minutes;
  return {
    line,
    labels,
    deps,
    comments,
    bead: {
      id,
      title,
      description: str('description'),
      design: str('design'),
      acceptance_criteria: str('acceptance_criteria'),
      notes: str('notes'),
      status: statusText as Bead['status'],
      priority,
      issue_type: issueType,
      assignee: str('assignee') || null,
      owner: str('owner') || null,
      rig: str('rig') || null,
      estimated_minutes: typeof estimate === 'number' && estimate >= 0 ? Math.floor(estimate) : null,
      created_at: created,
      created_by: str('created_by'),
      updated_at: updated,
      started_at: parseTime(record.started_at),
      closed_at: closedAt,
      close_reason: statusText === 'closed' ? str('close_reason') || 'Closed' : null,
      due_at: parseTime(record.due_at),
      defer_until: parseTime(record.defer_until),
      external_ref: str('external_ref') || null,
      metadata: JSON.stringify(metadata),
    },
  };
}

function importError(source: string, line: number, message: string): GtError {
  return new GtError('GT_E_IMPORT', `${source}:${line}: ${message}`, {
    hint: 'fix that line and import again; nothing was imported',
    details: { line },
  });
}
