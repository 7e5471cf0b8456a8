import type { Db } from './open';

/**
 * Maintains beads.is_blocked, the materialised half of "ready work" (beads §3.1):
 * a bead that is not closed/pinned is blocked when it has a blocking edge to a bead that is not
 * closed/pinned, or when its parent is blocked. Recomputed incrementally inside each write transaction.
 */
const BLOCKING = "('blocks','conditional-blocks')";
const RELEASING = "('closed','pinned')";

interface BlockedInputs {
  status: string;
  is_blocked: number;
  has_blocker: number;
  parent_blocked: number | null;
}

export class BlockedIndex {
  private readonly inputs;
  private readonly setBlocked;
  private readonly children;
  private readonly dependents;

  constructor(private readonly db: Db) {
    this.inputs = db.prepare<[string], BlockedInputs>(`
      SELECT b.status, b.is_blocked,
        EXISTS (SELECT 1 FROM deps d JOIN beads t ON t.id = d.depends_on_id
                WHERE d.issue_id = b.id AND d.type IN ${BLOCKING} AND t.status NOT IN ${RELEASING}) AS has_blocker,
        (SELECT p.is_blocked FROM deps d JOIN beads p ON p.id = d.depends_on_id
         WHERE d.issue_id = b.id AND d.type = 'parent-child') AS parent_blocked
      FROM beads b WHERE b.id = ?`);
    this.setBlocked = db.prepare<[number, string]>('UPDATE beads SET is_blocked = ? WHERE id = ?');
    this.children = db
      .prepare<[string], string>(
        "SELECT issue_id FROM deps WHERE depends_on_id = ? AND type = 'parent-child'",
      )
      .pluck();
    this.dependents = db
      .prepare<[string], string>(`SELECT issue_id FROM deps WHERE depends_on_id = ? AND type IN ${BLOCKING}`)
      .pluck();
  }

  /** After bead `id` changed status: itself and the beads it blocks may change. */
  afterStatusChange(id: string): void {
    this.refresh([id, ...this.dependents.all(id)]);
  }

  /** After an edge from `issueId` was added or removed. */
  afterEdgeChange(issueId: string): void {
    this.refresh([issueId]);
  }

  /** Recomputes the given beads, then the descendants of any whose state flipped. */
  refresh(seeds: Iterable<string>): void {
    const queue = [...seeds];
    for (let head = 0; head < queue.length; head++) {
      const id = queue[head]!;
      const row = this.inputs.get(id);
      if (!row) continue;
      const blocked = computeBlocked(row);
      if (blocked !== row.is_blocked) {
        this.setBlocked.run(blocked, id);
        for (const child of this.children.all(id)) queue.push(child);
      }
    }
  }

  /** Full recomputation (after bulk import): direct blockers, then inheritance down parent-child edges. */
  rebuildAll(): void {
    this.db.exec(`
      UPDATE beads SET is_blocked = 0 WHERE is_blocked = 1;
      WITH RECURSIVE held(id) AS (
        SELECT b.id FROM beads b
        WHERE b.status NOT IN ${RELEASING} AND EXISTS (
          SELECT 1 FROM deps d JOIN beads t ON t.id = d.depends_on_id
          WHERE d.issue_id = b.id AND d.type IN ${BLOCKING} AND t.status NOT IN ${RELEASING})
        UNION
        SELECT d.issue_id FROM deps d JOIN held ON d.depends_on_id = held.id
        JOIN beads c ON c.id = d.issue_id
        WHERE d.type = 'parent-child' AND c.status NOT IN ${RELEASING}
      )
      UPDATE beads SET is_blocked = 1 WHERE id IN (SELECT id FROM held);
    `);
  }
}

export function computeBlocked(row: Omit<BlockedInputs, 'is_blocked'>): number {
  if (row.status === 'closed' || row.status === 'pinned') return 0;
  if (row.has_blocker) return 1;
  return row.parent_blocked ? 1 : 0;
}
