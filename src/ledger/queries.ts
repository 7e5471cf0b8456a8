import { type Bead, NON_WORK_TYPES, type Status } from '../core/bead';
import { type Db, prepared } from './open';
import { type BeadJson, beadToJson, commentToJson } from './serialize';

export interface ListFilters {
  statuses?: readonly Status[];
  /** Include closed beads when no status filter is given. */
  all?: boolean;
  types?: readonly string[];
  assignee?: string;
  unassigned?: boolean;
  labels?: readonly string[];
  priority?: number;
  parent?: string;
  rig?: string;
  text?: string;
  limit?: number;
}

export interface ReadyFilters {
  assignee?: string;
  unassigned?: boolean;
  labels?: readonly string[];
  priority?: number;
  types?: readonly string[];
  parent?: string;
  rig?: string;
  limit?: number;
}

const TYPE_PLACEHOLDERS = NON_WORK_TYPES.map(() => '?').join(',');

/** Read side of the ledger: lists, the ready queue, details, statistics. */
export class BeadQueries {
  constructor(private readonly db: Db) {}

  private q<P extends unknown[] | object = unknown[], R = unknown>(sql: string) {
    return prepared<P, R>(this.db, sql);
  }

  list(filters: ListFilters): Bead[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filters.statuses && filters.statuses.length > 0) {
      where.push(`b.status IN (${filters.statuses.map(() => '?').join(',')})`);
      params.push(...filters.statuses);
    } else if (!filters.all) {
      where.push("b.status NOT IN ('closed','pinned')");
    }
    this.commonFilters(filters, where, params);
    if (filters.text) {
      where.push(
        "(b.title LIKE ? ESCAPE '\\' OR b.id LIKE ? ESCAPE '\\' OR b.description LIKE ? ESCAPE '\\')",
      );
      const pattern = `%${escapeLike(filters.text)}%`;
      params.push(pattern, pattern, pattern);
    }
    const sql = `SELECT b.* FROM beads b ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY b.priority, b.created_at, b.rowid ${limitClause(filters.limit, params)}`;
    return this.q<unknown[], Bead>(sql).all(...params);
  }

  /** Open, unblocked, undeferred work in priority-then-age order (read straight off the beads_ready index). */
  ready(filters: ReadyFilters = {}): Bead[] {
    const where = ["b.status = 'open'", 'b.is_blocked = 0', '(b.defer_until IS NULL OR b.defer_until <= ?)'];
    const params: unknown[] = [Date.now()];
    if (!filters.types || filters.types.length === 0) {
      where.push(`b.issue_type NOT IN (${TYPE_PLACEHOLDERS})`);
      params.push(...NON_WORK_TYPES);
    }
    this.commonFilters(filters, where, params);
    const sql = `SELECT b.* FROM beads b INDEXED BY beads_ready WHERE ${where.join(' AND ')}
      ORDER BY b.priority, b.created_at ${limitClause(filters.limit ?? 100, params)}`;
    return this.q<unknown[], Bead>(sql).all(...params);
  }

  /** Beads held back by open blockers (directly or through a blocked parent). */
  blocked(filters: { parent?: string; limit?: number } = {}): Array<{ bead: Bead; blockedBy: string[] }> {
    const where = ['b.is_blocked = 1', "b.status NOT IN ('closed','pinned')"];
    const params: unknown[] = [];
    this.commonFilters({ parent: filters.parent }, where, params);
    const rows = this.q<unknown[], Bead>(
      `SELECT b.* FROM beads b WHERE ${where.join(' AND ')} ORDER BY b.priority, b.created_at
         ${limitClause(filters.limit, params)}`,
    ).all(...params);
    const direct = this.q<[string], string>(
      `SELECT d.depends_on_id FROM deps d JOIN beads t ON t.id = d.depends_on_id
         WHERE d.issue_id = ? AND d.type IN ('blocks','conditional-blocks') AND t.status NOT IN ('closed','pinned')
         ORDER BY d.depends_on_id`,
    ).pluck();
    return rows.map((bead) => {
      const blockers = direct.all(bead.id);
      const parent = this.parentId(bead.id);
      return { bead, blockedBy: blockers.length > 0 ? blockers : parent ? [parent] : [] };
    });
  }

  private commonFilters(filters: ListFilters | ReadyFilters, where: string[], params: unknown[]): void {
    if (filters.types && filters.types.length > 0) {
      where.push(`b.issue_type IN (${filters.types.map(() => '?').join(',')})`);
      params.push(...filters.types);
    }
    if (filters.assignee) {
      where.push('b.assignee = ?');
      params.push(filters.assignee);
    }
    if (filters.unassigned) where.push("(b.assignee IS NULL OR b.assignee = '')");
    if (filters.priority !== undefined) {
      where.push('b.priority = ?');
      params.push(filters.priority);
    }
    if (filters.rig) {
      where.push('b.rig = ?');
      params.push(filters.rig);
    }
    for (const label of filters.labels ?? []) {
      where.push('EXISTS (SELECT 1 FROM labels l WHERE l.issue_id = b.id AND l.label = ?)');
      params.push(label);
    }
    if (filters.parent) {
      where.push(
        `b.id IN (WITH RECURSIVE sub(id) AS (
           SELECT issue_id FROM deps WHERE depends_on_id = ? AND type = 'parent-child'
           UNION SELECT d.issue_id FROM deps d JOIN sub ON d.depends_on_id = sub.id WHERE d.type = 'parent-child')
         SELECT id FROM sub)`,
      );
      params.push(filters.parent);
    }
  }

  parentId(id: string): string | undefined {
    return this.q<[string], string>(
      "SELECT depends_on_id FROM deps WHERE issue_id = ? AND type = 'parent-child'",
    )
      .pluck()
      .get(id);
  }

  /** beads' IssueWithCounts: the bead, its labels, edge and comment counts, and its parent. */
  withCounts(beads: readonly Bead[]): BeadJson[] {
    const labels = this.q<[string], string>(
      'SELECT label FROM labels WHERE issue_id = ? ORDER BY label',
    ).pluck();
    const counts = this.q<
      [string, string, string, string],
      { dependency_count: number; dependent_count: number; comment_count: number; parent: string | null }
    >(
      `SELECT (SELECT count(*) FROM deps WHERE issue_id = ?) AS dependency_count,
              (SELECT count(*) FROM deps WHERE depends_on_id = ?) AS dependent_count,
              (SELECT count(*) FROM comments WHERE issue_id = ?) AS comment_count,
              (SELECT depends_on_id FROM deps WHERE issue_id = ? AND type = 'parent-child') AS parent`,
    );
    return beads.map((bead) => {
      const json = beadToJson(bead, labels.all(bead.id));
      const c = counts.get(bead.id, bead.id, bead.id, bead.id)!;
      json.dependency_count = c.dependency_count;
      json.dependent_count = c.dependent_count;
      json.comment_count = c.comment_count;
      if (c.parent) json.parent = c.parent;
      return json;
    });
  }

  /** beads' IssueDetails for `bd show`: counts plus dependency targets, dependents and comments. */
  details(bead: Bead): BeadJson {
    const json = this.withCounts([bead])[0]!;
    json.is_blocked = bead.is_blocked === 1;
    const related = (sql: string) =>
      this.q<[string], Bead & { dependency_type: string }>(sql)
        .all(bead.id)
        .map((row) => ({ ...beadToJson(row), dependency_type: row.dependency_type }));
    json.dependencies = related(
      `SELECT t.*, d.type AS dependency_type FROM deps d JOIN beads t ON t.id = d.depends_on_id
       WHERE d.issue_id = ? ORDER BY d.type, t.id`,
    );
    json.dependents = related(
      `SELECT s.*, d.type AS dependency_type FROM deps d JOIN beads s ON s.id = d.issue_id
       WHERE d.depends_on_id = ? ORDER BY d.type, s.id`,
    );
    json.comments = this.q<
      [string],
      { id: number; issue_id: string; author: string; text: string; created_at: number }
    >('SELECT * FROM comments WHERE issue_id = ? ORDER BY id')
      .all(bead.id)
      .map(commentToJson);
    return json;
  }

  /** Dependency tree downwards (what `id` waits on), depth-first, with cycle protection. */
  tree(
    rootId: string,
    maxDepth = 50,
  ): Array<{ bead: Bead; depth: number; parent_id: string | null; type: string | null }> {
    const get = this.q<[string], Bead>('SELECT * FROM beads WHERE id = ?');
    const edges = this.q<[string], { depends_on_id: string; type: string }>(
      'SELECT depends_on_id, type FROM deps WHERE issue_id = ? ORDER BY type, depends_on_id',
    );
    const out: Array<{ bead: Bead; depth: number; parent_id: string | null; type: string | null }> = [];
    const visit = (
      id: string,
      depth: number,
      parentId: string | null,
      type: string | null,
      path: Set<string>,
    ) => {
      const bead = get.get(id);
      if (!bead) return;
      out.push({ bead, depth, parent_id: parentId, type });
      if (depth >= maxDepth || path.has(id)) return;
      path.add(id);
      for (const edge of edges.all(id)) visit(edge.depends_on_id, depth + 1, id, edge.type, path);
      path.delete(id);
    };
    visit(rootId, 0, null, null, new Set());
    return out;
  }

  stats(): Record<string, number> {
    const byStatus = new Map(
      this.q<[], { status: string; n: number }>('SELECT status, count(*) AS n FROM beads GROUP BY status')
        .all()
        .map((row) => [row.status, row.n]),
    );
    const count = (status: string) => byStatus.get(status) ?? 0;
    const total = [...byStatus.values()].reduce((a, b) => a + b, 0);
    const blocked = this.q(
      "SELECT count(*) FROM beads WHERE is_blocked = 1 AND status NOT IN ('closed','pinned')",
    )
      .pluck()
      .get() as number;
    const ready = this.q(
      `SELECT count(*) FROM beads INDEXED BY beads_ready WHERE status = 'open' AND is_blocked = 0
         AND (defer_until IS NULL OR defer_until <= ?) AND issue_type NOT IN (${TYPE_PLACEHOLDERS})`,
    )
      .pluck()
      .get(Date.now(), ...NON_WORK_TYPES) as number;
    const lead = this.q(
      "SELECT avg(closed_at - created_at) FROM beads WHERE status = 'closed' AND closed_at IS NOT NULL",
    )
      .pluck()
      .get() as number | null;
    return {
      total_issues: total,
      open_issues: count('open'),
      in_progress_issues: count('in_progress'),
      hooked_issues: count('hooked'),
      in_review_issues: count('in_review'),
      closed_issues: count('closed'),
      blocked_issues: blocked,
      deferred_issues: count('deferred'),
      pinned_issues: count('pinned'),
      ready_issues: ready,
      average_lead_time_hours: lead === null ? 0 : Math.round((lead / 3_600_000) * 100) / 100,
    };
  }
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function limitClause(limit: number | undefined, params: unknown[]): string {
  if (limit === undefined || limit <= 0) return '';
  params.push(limit);
  return 'LIMIT ?';
}
