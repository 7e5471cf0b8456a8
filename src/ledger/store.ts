import {
  type Bead,
  type BeadEvent,
  BLOCKING_DEP_TYPES,
  type Comment,
  type Dependency,
  isReleasing,
  parseDepType,
  type Status,
  validateLabel,
  validateText,
  validateTitle,
} from '../core/bead';
import type { DepSpec } from '../core/dep-spec';
import { GtError } from '../core/errors';
import { describeCycle, findPath } from '../core/graph';
import { candidateIds, childId, isWellFormedId, prefixOf, validatePrefix } from '../core/ids';
import { BlockedIndex } from './blocked';
import { type Db, prepared } from './open';
import { IdResolver } from './resolve';
import { nowMs, toRfc3339 } from './time';

export interface CreateBeadInput {
  title: string;
  description?: string;
  design?: string;
  acceptance_criteria?: string;
  notes?: string;
  issue_type?: string;
  priority?: number;
  assignee?: string | null;
  labels?: readonly string[];
  parent?: string;
  deps?: readonly DepSpec[];
  /** Explicit id (import-style); otherwise generated from the prefix. */
  id?: string;
  prefix?: string;
  rig?: string | null;
  external_ref?: string | null;
  estimated_minutes?: number | null;
}

export interface UpdateBeadInput {
  title?: string;
  description?: string;
  design?: string;
  acceptance_criteria?: string;
  notes?: string;
  status?: Status;
  priority?: number;
  issue_type?: string;
  assignee?: string | null;
  external_ref?: string | null;
  close_reason?: string;
  force?: boolean;
}

type Field = keyof Bead;

export interface EventJson {
  id: number;
  issue_id: string;
  event_type: string;
  actor: string;
  old_value: unknown;
  new_value: unknown;
  comment: string | null;
  created_at: string;
}
const TEXT_FIELDS = ['description', 'design', 'acceptance_criteria', 'notes'] as const;

/**
 * The bead ledger: every write is one IMMEDIATE transaction (so concurrent processes queue on the busy
 * timeout instead of failing), keeps is_blocked current and appends to the event trail.
 */
export class BeadStore {
  readonly resolver: IdResolver;
  private readonly blocked: BlockedIndex;
  private readonly getStmt;
  private readonly depsOut;
  private readonly blockingOut;
  private readonly parentOf;

  constructor(
    readonly db: Db,
    readonly actor: string,
  ) {
    this.resolver = new IdResolver(db);
    this.blocked = new BlockedIndex(db);
    this.getStmt = db.prepare<[string], Bead>('SELECT * FROM beads WHERE id = ?');
    this.depsOut = db.prepare<[string], Dependency>('SELECT * FROM deps WHERE issue_id = ?');
    this.blockingOut = db
      .prepare<[string], string>(
        `SELECT depends_on_id FROM deps WHERE issue_id = ? AND type IN ('blocks','conditional-blocks')`,
      )
      .pluck();
    this.parentOf = db
      .prepare<[string], string>(
        "SELECT depends_on_id FROM deps WHERE issue_id = ? AND type = 'parent-child'",
      )
      .pluck();
  }

  private q<P extends unknown[] | object = unknown[], R = unknown>(sql: string) {
    return prepared<P, R>(this.db, sql);
  }

  // ---- configuration -------------------------------------------------------------------------

  getConfig(key: string): string | undefined {
    const row = this.q<[string], { value: string }>('SELECT value FROM config WHERE key = ?').get(key);
    return row?.value;
  }

  setConfig(key: string, value: string): void {
    this.q(
      'INSERT INTO config (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ).run(key, value);
  }

  /** The default prefix for new beads (`issue_prefix`). */
  defaultPrefix(): string {
    const prefix = this.getConfig('issue_prefix');
    if (!prefix) {
      throw new GtError('GT_E_CONFIG', 'this ledger has no issue_prefix configured', {
        hint: "run 'bd init --prefix <p>' or set it with 'bd config set issue_prefix <p>'",
      });
    }
    return prefix;
  }

  registerPrefix(prefix: string): void {
    this.q('INSERT OR IGNORE INTO prefixes (prefix) VALUES (?)').run(prefix);
  }

  rigPrefix(rig: string): string {
    const row = this.q<[string], { prefix: string }>('SELECT prefix FROM rigs WHERE name = ?').get(rig);
    if (!row) {
      throw new GtError('GT_E_RIG_NOT_FOUND', `no rig named '${rig}' in this town`, {
        hint: "list rigs with 'gt rig list'",
      });
    }
    return row.prefix;
  }

  // ---- reads used by writers -----------------------------------------------------------------

  get(id: string): Bead | undefined {
    return this.getStmt.get(id);
  }

  /** The bead for what the user typed (partial ids allowed). */
  require(input: string): Bead {
    return this.getStmt.get(this.resolver.resolve(input))!;
  }

  // ---- create --------------------------------------------------------------------------------

  create(input: CreateBeadInput): Bead {
    const title = validateTitle(input.title);
    for (const field of TEXT_FIELDS) validateText(field, input[field] ?? '');
    const labels = (input.labels ?? []).map(validateLabel);
    return this.write(() => {
      const now = nowMs();
      const parent = input.parent ? this.require(input.parent) : undefined;
      const id = this.allocateId(input, title, now, parent);
      this.q(
        `INSERT INTO beads (id, title, description, design, acceptance_criteria, notes, priority, issue_type,
             assignee, rig, external_ref, estimated_minutes, created_at, created_by, updated_at)
           VALUES (@id, @title, @description, @design, @acceptance_criteria, @notes, @priority, @issue_type,
             @assignee, @rig, @external_ref, @estimated_minutes, @now, @actor, @now)`,
      ).run({
        id,
        title,
        description: input.description ?? '',
        design: input.design ?? '',
        acceptance_criteria: input.acceptance_criteria ?? '',
        notes: input.notes ?? '',
        priority: input.priority ?? 2,
        issue_type: input.issue_type ?? 'task',
        assignee: input.assignee || null,
        rig: input.rig ?? null,
        external_ref: input.external_ref || null,
        estimated_minutes: input.estimated_minutes ?? null,
        now,
        actor: this.actor,
      });
      this.registerPrefix(prefixOf(id));
      for (const label of new Set(labels)) this.insertLabel(id, label);
      this.event(id, 'created', null, {
        title,
        priority: input.priority ?? 2,
        issue_type: input.issue_type ?? 'task',
      });
      if (parent) this.insertEdge(id, parent.id, 'parent-child', now);
      for (const spec of input.deps ?? []) {
        const target = this.require(spec.target);
        if (spec.reversed) this.addEdgeChecked(target.id, id, spec.type, now);
        else this.addEdgeChecked(id, target.id, spec.type, now);
      }
      this.blocked.refresh([id]);
      return this.get(id)!;
    });
  }

  private allocateId(input: CreateBeadInput, title: string, now: number, parent: Bead | undefined): string {
    if (input.id !== undefined) {
      if (parent) throw new GtError('GT_E_USAGE', '--id and --parent cannot be used together');
      const id = input.id.trim().toLowerCase();
      if (!isWellFormedId(id)) {
        throw new GtError('GT_E_INVALID_ID', `'${input.id}' is not a valid bead id`, {
          hint: "ids look like '<prefix>-<suffix>', e.g. gt-a3f8k or gt-a3f8k.1",
        });
      }
      if (this.get(id)) throw new GtError('GT_E_INVALID_ID', `a bead with id ${id} already exists`);
      return id;
    }
    if (parent) {
      const counter = this.q<[string], { last_child: number }>(
        'SELECT last_child FROM child_counters WHERE parent_id = ?',
      ).get(parent.id);
      let n = (counter?.last_child ?? 0) + 1;
      while (this.get(childId(parent.id, n))) n++;
      this.q(
        `INSERT INTO child_counters (parent_id, last_child) VALUES (?, ?)
           ON CONFLICT (parent_id) DO UPDATE SET last_child = excluded.last_child`,
      ).run(parent.id, n);
      return childId(parent.id, n);
    }
    const prefix = validatePrefix(input.prefix ?? this.defaultPrefix());
    // max(rowid) is an O(1) upper bound on the number of beads: ids only get longer than needed, never shorter.
    const existing = (this.q('SELECT max(rowid) FROM beads').pluck().get() as number | null) ?? 0;
    const seed = `${title}|${input.description ?? ''}|${this.actor}|${now}|${process.pid}|${Math.random()}`;
    for (const candidate of candidateIds(prefix, seed, existing)) {
      if (!this.get(candidate)) return candidate;
    }
    throw new GtError('GT_E_ID_EXHAUSTED', `could not find a free id for prefix '${prefix}'`, {
      hint: 'this should be vanishingly rare; retry the command',
    });
  }

  // ---- update --------------------------------------------------------------------------------

  update(inputId: string, changes: UpdateBeadInput): Bead {
    if (changes.title !== undefined) changes.title = validateTitle(changes.title);
    for (const field of TEXT_FIELDS) if (changes[field] !== undefined) validateText(field, changes[field]!);
    return this.write(() => {
      const before = this.require(inputId);
      const now = nowMs();
      if (changes.status === 'closed' && before.status !== 'closed') {
        this.closeInside(before, changes.close_reason ?? 'Closed', Boolean(changes.force), now);
      } else if (changes.status !== undefined && changes.status !== before.status) {
        this.setStatus(before, changes.status, now);
      }
      const assignments: Partial<Record<Field, unknown>> = {};
      for (const field of [
        'title',
        ...TEXT_FIELDS,
        'priority',
        'issue_type',
        'assignee',
        'external_ref',
      ] as const) {
        const value = changes[field];
        if (value === undefined) continue;
        const normalised = (field === 'assignee' || field === 'external_ref') && value === '' ? null : value;
        if (normalised !== before[field]) assignments[field] = normalised;
      }
      const fields = Object.keys(assignments) as Field[];
      if (fields.length > 0) {
        const sets = fields.map((field) => `${field} = @${field}`).join(', ');
        this.q(`UPDATE beads SET ${sets}, updated_at = @now WHERE id = @id`).run({
          ...assignments,
          now,
          id: before.id,
        });
        const old = Object.fromEntries(fields.map((field) => [field, before[field]]));
        this.event(before.id, 'updated', old, assignments);
      }
      return this.get(before.id)!;
    });
  }

  /** Atomic claim: assignee + in_progress only if unclaimed; idempotent for the same actor. */
  claim(inputId: string): Bead {
    return this.write(() => {
      const bead = this.require(inputId);
      const now = nowMs();
      const changed = this.q(
        `UPDATE beads SET assignee = @actor, status = 'in_progress', updated_at = @now,
             started_at = coalesce(started_at, @now)
           WHERE id = @id AND status = 'open' AND (assignee IS NULL OR assignee = '' OR assignee = @actor)`,
      ).run({ actor: this.actor, now, id: bead.id }).changes;
      if (changed === 1) {
        this.event(
          bead.id,
          'claimed',
          { status: bead.status, assignee: bead.assignee },
          { assignee: this.actor },
        );
        return this.get(bead.id)!;
      }
      if (bead.status === 'in_progress' && bead.assignee === this.actor) return bead;
      if (bead.assignee && bead.assignee !== this.actor) {
        throw new GtError('GT_E_ALREADY_CLAIMED', `${bead.id} is already claimed by ${bead.assignee}`, {
          hint: "pick another bead from 'bd ready'",
          details: { assignee: bead.assignee },
        });
      }
      throw new GtError('GT_E_NOT_CLAIMABLE', `${bead.id} cannot be claimed: its status is ${bead.status}`, {
        hint: 'only open beads can be claimed',
      });
    });
  }

  close(inputId: string, reason: string, force = false): Bead {
    validateText('reason', reason);
    return this.write(() => {
      const bead = this.require(inputId);
      if (bead.status === 'closed') {
        throw new GtError('GT_E_INVALID_INPUT', `${bead.id} is already closed`, {
          hint: `reopen it first with 'bd reopen ${bead.id}' if it needs more work`,
        });
      }
      this.closeInside(bead, reason, force, nowMs());
      return this.get(bead.id)!;
    });
  }

  reopen(inputId: string, reason?: string): Bead {
    return this.write(() => {
      const bead = this.require(inputId);
      if (bead.status === 'open') {
        throw new GtError('GT_E_ALREADY_OPEN', `${bead.id} is already open`, { hint: 'nothing to do' });
      }
      const now = nowMs();
      this.q(
        `UPDATE beads SET status = 'open', closed_at = NULL, close_reason = NULL, defer_until = NULL,
             updated_at = ? WHERE id = ?`,
      ).run(now, bead.id);
      this.event(bead.id, 'reopened', { status: bead.status }, { status: 'open' }, reason ?? null);
      this.blocked.afterStatusChange(bead.id);
      return this.get(bead.id)!;
    });
  }

  private closeInside(bead: Bead, reason: string, force: boolean, now: number): void {
    if (!force) {
      const blockers = this.openBlockers(bead.id);
      if (blockers.length > 0) {
        throw new GtError(
          'GT_E_BLOCKED',
          `cannot close ${bead.id}: blocked by open beads ${blockers.join(', ')}`,
          {
            hint: 'close the blockers first, or pass --force if this bead is really done',
            details: { blockers },
          },
        );
      }
      const openChildren = this.q<[string], string>(
        `SELECT d.issue_id FROM deps d JOIN beads c ON c.id = d.issue_id
           WHERE d.depends_on_id = ? AND d.type = 'parent-child' AND c.status NOT IN ('closed','pinned')`,
      )
        .pluck()
        .all(bead.id);
      if (bead.issue_type === 'epic' && openChildren.length > 0) {
        throw new GtError(
          'GT_E_OPEN_CHILDREN',
          `cannot close epic ${bead.id}: ${openChildren.length} open child bead(s): ${openChildren.slice(0, 10).join(', ')}`,
          { hint: 'close the children first, or pass --force', details: { children: openChildren } },
        );
      }
    }
    this.q(
      `UPDATE beads SET status = 'closed', closed_at = @now, close_reason = @reason, updated_at = @now
         WHERE id = @id`,
    ).run({ now, reason, id: bead.id });
    this.event(bead.id, 'closed', { status: bead.status }, { status: 'closed', reason });
    this.blocked.afterStatusChange(bead.id);
  }

  private setStatus(bead: Bead, status: Status, now: number): void {
    this.q(
      `UPDATE beads SET status = @status, updated_at = @now,
           closed_at = NULL, close_reason = NULL,
           started_at = CASE WHEN @status = 'in_progress' THEN coalesce(started_at, @now) ELSE started_at END
         WHERE id = @id`,
    ).run({ status, now, id: bead.id });
    const type = bead.status === 'closed' ? 'reopened' : 'status_changed';
    this.event(bead.id, type, { status: bead.status }, { status });
    if (isReleasing(bead.status) !== isReleasing(status)) this.blocked.afterStatusChange(bead.id);
  }

  openBlockers(id: string): string[] {
    return this.q<[string], string>(
      `SELECT d.depends_on_id FROM deps d JOIN beads t ON t.id = d.depends_on_id
         WHERE d.issue_id = ? AND d.type IN ('blocks','conditional-blocks') AND t.status NOT IN ('closed','pinned')
         ORDER BY d.depends_on_id`,
    )
      .pluck()
      .all(id);
  }

  // ---- dependencies --------------------------------------------------------------------------

  addDependency(issueInput: string, targetInput: string, typeInput = 'blocks'): Dependency {
    const type = parseDepType(typeInput);
    return this.write(() => {
      const issue = this.require(issueInput);
      const target = this.require(targetInput);
      this.addEdgeChecked(issue.id, target.id, type, nowMs());
      this.blocked.afterEdgeChange(issue.id);
      return this.q<[string, string], Dependency>(
        'SELECT * FROM deps WHERE issue_id = ? AND depends_on_id = ?',
      ).get(issue.id, target.id)!;
    });
  }

  removeDependency(issueInput: string, targetInput: string): Dependency {
    return this.write(() => {
      const issue = this.require(issueInput);
      const target = this.require(targetInput);
      const existing = this.q<[string, string], Dependency>(
        'SELECT * FROM deps WHERE issue_id = ? AND depends_on_id = ?',
      ).get(issue.id, target.id);
      if (!existing) {
        throw new GtError('GT_E_NOT_FOUND', `${issue.id} does not depend on ${target.id}`, {
          hint: `see its dependencies with 'bd dep tree ${issue.id}'`,
        });
      }
      this.q('DELETE FROM deps WHERE issue_id = ? AND depends_on_id = ?').run(issue.id, target.id);
      this.event(issue.id, 'dependency_removed', { depends_on_id: target.id, type: existing.type }, null);
      this.blocked.afterEdgeChange(issue.id);
      return existing;
    });
  }

  private addEdgeChecked(issueId: string, targetId: string, type: string, now: number): void {
    if (issueId === targetId) {
      throw new GtError('GT_E_SELF_DEPENDENCY', `${issueId} cannot depend on itself`, {
        hint: 'name two different beads',
      });
    }
    const existing = this.q<[string, string], Dependency>(
      'SELECT * FROM deps WHERE issue_id = ? AND depends_on_id = ?',
    ).get(issueId, targetId);
    if (existing) {
      if (existing.type === type) return; // idempotent re-add
      throw new GtError(
        'GT_E_DEP_CONFLICT',
        `${issueId} already depends on ${targetId} as '${existing.type}', not '${type}'`,
        { hint: `remove it first: bd dep remove ${issueId} ${targetId}` },
      );
    }
    if (BLOCKING_DEP_TYPES.includes(type)) this.refuseBlockingCycle(issueId, targetId);
    if (type === 'parent-child') this.refuseParentCycle(issueId, targetId);
    this.insertEdge(issueId, targetId, type, now);
  }

  private refuseBlockingCycle(issueId: string, targetId: string): void {
    // Adding issue → target closes a cycle iff issue is already reachable from target.
    const path = findPath(targetId, issueId, (id) => this.blockingOut.all(id));
    if (path) {
      const cycle = [issueId, ...path];
      throw new GtError('GT_E_CYCLE', `dependency would create a cycle: ${describeCycle(cycle)}`, {
        hint: 'blocking dependencies must not loop; remove one of the edges in the cycle first',
        details: { cycle },
      });
    }
    if (this.ancestors(issueId).includes(targetId)) {
      throw new GtError('GT_E_CYCLE', `${issueId} cannot be blocked by its own ancestor ${targetId}`, {
        hint: 'a child waiting for its parent to close would never start; use a related edge instead',
      });
    }
  }

  private refuseParentCycle(childId: string, parentId: string): void {
    const existingParent = this.parentOf.get(childId);
    if (existingParent) {
      throw new GtError('GT_E_DEP_CONFLICT', `${childId} already has parent ${existingParent}`, {
        hint: `remove that edge first: bd dep remove ${childId} ${existingParent}`,
      });
    }
    const chain = [parentId, ...this.ancestors(parentId)];
    if (chain.includes(childId)) {
      const cycle = [childId, ...chain.slice(0, chain.indexOf(childId) + 1)];
      throw new GtError('GT_E_CYCLE', `parent-child edge would create a cycle: ${describeCycle(cycle)}`, {
        hint: 'a bead cannot be its own ancestor',
      });
    }
  }

  private ancestors(id: string): string[] {
    const chain: string[] = [];
    let current = this.parentOf.get(id);
    while (current && !chain.includes(current)) {
      chain.push(current);
      current = this.parentOf.get(current);
    }
    return chain;
  }

  private insertEdge(issueId: string, targetId: string, type: string, now: number): void {
    this.q(
      'INSERT INTO deps (issue_id, depends_on_id, type, created_at, created_by) VALUES (?, ?, ?, ?, ?)',
    ).run(issueId, targetId, type, now, this.actor);
    this.event(issueId, 'dependency_added', null, { depends_on_id: targetId, type });
  }

  dependenciesOf(id: string): Dependency[] {
    return this.depsOut.all(id);
  }

  // ---- labels and comments -------------------------------------------------------------------

  addLabel(inputId: string, labelInput: string): { issue_id: string; label: string; added: boolean } {
    const label = validateLabel(labelInput);
    return this.write(() => {
      const bead = this.require(inputId);
      const added = this.insertLabel(bead.id, label);
      if (added) {
        this.event(bead.id, 'label_added', null, { label });
        this.touch(bead.id);
      }
      return { issue_id: bead.id, label, added };
    });
  }

  removeLabel(inputId: string, labelInput: string): { issue_id: string; label: string } {
    const label = labelInput.trim();
    return this.write(() => {
      const bead = this.require(inputId);
      const removed = this.q('DELETE FROM labels WHERE issue_id = ? AND label = ?').run(bead.id, label);
      if (removed.changes === 0) {
        throw new GtError('GT_E_NOT_FOUND', `${bead.id} has no label '${label}'`, {
          hint: `see its labels with 'bd label list ${bead.id}'`,
        });
      }
      this.event(bead.id, 'label_removed', { label }, null);
      this.touch(bead.id);
      return { issue_id: bead.id, label };
    });
  }

  labelsOf(id: string): string[] {
    return this.q<[string], string>('SELECT label FROM labels WHERE issue_id = ? ORDER BY label')
      .pluck()
      .all(id);
  }

  private insertLabel(id: string, label: string): boolean {
    return this.q('INSERT OR IGNORE INTO labels (issue_id, label) VALUES (?, ?)').run(id, label).changes > 0;
  }

  addComment(inputId: string, text: string): Comment {
    if (text.trim().length === 0) {
      throw new GtError('GT_E_INVALID_INPUT', 'a comment needs some text', {
        hint: 'bd comment <id> "text"',
      });
    }
    validateText('comment', text);
    return this.write(() => {
      const bead = this.require(inputId);
      const now = nowMs();
      const id = Number(
        this.q('INSERT INTO comments (issue_id, author, text, created_at) VALUES (?, ?, ?, ?)').run(
          bead.id,
          this.actor,
          text,
          now,
        ).lastInsertRowid,
      );
      this.event(bead.id, 'commented', null, null, text);
      this.touch(bead.id);
      return { id, issue_id: bead.id, author: this.actor, text, created_at: now };
    });
  }

  commentsOf(id: string): Comment[] {
    return this.q<[string], Comment>('SELECT * FROM comments WHERE issue_id = ? ORDER BY id').all(id);
  }

  /** The event trail of a bead, oldest first, with JSON values decoded. */
  eventsOf(id: string): EventJson[] {
    return this.q<[string], BeadEvent>('SELECT * FROM events WHERE issue_id = ? ORDER BY id')
      .all(id)
      .map((e) => ({
        id: e.id,
        issue_id: e.issue_id,
        event_type: e.event_type,
        actor: e.actor,
        old_value: e.old_value === null ? null : JSON.parse(e.old_value),
        new_value: e.new_value === null ? null : JSON.parse(e.new_value),
        comment: e.comment,
        created_at: toRfc3339(e.created_at),
      }));
  }

  // ---- plumbing ------------------------------------------------------------------------------

  /** Runs `fn` in one IMMEDIATE transaction: take the write lock up front so WAL readers never deadlock. */
  write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  private touch(id: string): void {
    this.q('UPDATE beads SET updated_at = ? WHERE id = ?').run(nowMs(), id);
  }

  event(id: string, type: string, oldValue: unknown, newValue: unknown, comment: string | null = null): void {
    this.q(
      `INSERT INTO events (issue_id, event_type, actor, old_value, new_value, comment, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      id,
      type,
      this.actor,
      oldValue === null ? null : JSON.stringify(oldValue),
      newValue === null ? null : JSON.stringify(newValue),
      comment,
      nowMs(),
    );
  }

  rebuildBlocked(): void {
    this.blocked.rebuildAll();
  }
}
