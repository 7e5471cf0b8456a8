import { GtError } from '../core/errors';
import type { Db } from './open';

/**
 * Resolves what a user or agent typed to a full bead id: exact id → '<prefix>-<input>' for each known
 * prefix → unique id whose hash part starts with the input. Ambiguity is an error listing candidates.
 */
export class IdResolver {
  private readonly exact;
  private readonly range;
  private readonly prefixes;

  constructor(db: Db) {
    this.exact = db.prepare<[string], string>('SELECT id FROM beads WHERE id = ?').pluck();
    this.range = db
      .prepare<[string, string], string>('SELECT id FROM beads WHERE id >= ? AND id < ? ORDER BY id LIMIT 11')
      .pluck();
    this.prefixes = db
      .prepare<[], string>('SELECT prefix FROM prefixes ORDER BY length(prefix) DESC')
      .pluck();
  }

  resolve(input: string): string {
    const wanted = input.trim().toLowerCase();
    if (wanted.length === 0) {
      throw new GtError('GT_E_INVALID_ID', 'an empty bead id was given', {
        hint: "pass an id such as 'gt-a3f'",
      });
    }
    if (this.exact.get(wanted)) return wanted;

    const candidates = new Set<string>();
    for (const prefix of this.prefixes.all()) {
      const full = `${prefix}-${wanted}`;
      if (this.exact.get(full)) return full;
      for (const id of this.startingWith(full)) candidates.add(id);
    }
    for (const id of this.startingWith(wanted)) candidates.add(id);
    // A top-level match beats its own children (gt-abc vs gt-abc.1).
    const found = [...candidates].filter((id) => {
      const top = id.split('.')[0]!;
      return top === id || !candidates.has(top);
    });
    if (found.length === 1) return found[0]!;
    if (found.length === 0) {
      throw new GtError('GT_E_NOT_FOUND', `no bead matches '${input}'`, {
        hint: "check the id with 'bd list' or 'bd search <words>'",
      });
    }
    const shown = found.slice(0, 10).join(', ');
    throw new GtError(
      'GT_E_AMBIGUOUS_ID',
      `'${input}' matches several beads: ${shown}${found.length > 10 ? ', …' : ''}`,
      {
        hint: 'type more characters of the id',
        details: { candidates: found.slice(0, 10) },
      },
    );
  }

  private startingWith(start: string): string[] {
    return this.range.all(start, `${start}\uffff`);
  }
}
