import { oneLine, stripControl } from '../../core/text';
import type { BeadJson } from '../../ledger/serialize';

const ICONS: Record<string, string> = {
  open: '○',
  in_progress: '◐',
  hooked: '◆',
  in_review: '◎',
  blocked: '●',
  deferred: '❄',
  pinned: '◇',
  closed: '✓',
};

/** Untrusted text is stripped of control characters before it reaches a terminal. */
export function beadLine(bead: BeadJson, options: { blocked?: boolean } = {}): string {
  const icon = options.blocked ? '●' : (ICONS[String(bead.status)] ?? '?');
  const parts = [icon, String(bead.id), `[P${bead.priority}]`, `[${bead.issue_type}]`];
  if (bead.assignee) parts.push(`@${oneLine(String(bead.assignee))}`);
  const labels = bead.labels as string[] | undefined;
  if (labels && labels.length > 0) parts.push(`[${labels.map(oneLine).join(', ')}]`);
  return `${parts.join(' ')} - ${oneLine(String(bead.title))}`;
}

export function beadList(beads: readonly BeadJson[], empty: string): string {
  if (beads.length === 0) return empty;
  return beads.map((bead) => beadLine(bead)).join('\n');
}

export function beadDetails(bead: BeadJson): string {
  const lines: string[] = [];
  const status = String(bead.status).toUpperCase() + (bead.is_blocked ? ' (blocked)' : '');
  lines.push(
    `${ICONS[String(bead.status)] ?? '?'} ${bead.id} · ${oneLine(String(bead.title))}   [P${bead.priority} · ${status}]`,
  );
  const meta = [`Type: ${bead.issue_type}`];
  if (bead.assignee) meta.push(`Assignee: ${oneLine(String(bead.assignee))}`);
  if (bead.rig) meta.push(`Rig: ${bead.rig}`);
  meta.push(`Created: ${bead.created_at} by ${oneLine(String(bead.created_by ?? '?'))}`);
  meta.push(`Updated: ${bead.updated_at}`);
  lines.push(meta.join(' · '));
  if (bead.closed_at) lines.push(`Closed: ${bead.closed_at} (${oneLine(String(bead.close_reason ?? ''))})`);
  const labels = bead.labels as string[] | undefined;
  if (labels?.length) lines.push(`Labels: ${labels.map(oneLine).join(', ')}`);
  if (bead.parent) lines.push(`Parent: ${bead.parent}`);
  for (const [key, heading] of [
    ['description', 'DESCRIPTION'],
    ['design', 'DESIGN'],
    ['acceptance_criteria', 'ACCEPTANCE CRITERIA'],
    ['notes', 'NOTES'],
  ] as const) {
    if (bead[key]) lines.push('', heading, indent(stripControl(String(bead[key]))));
  }
  const deps = (bead.dependencies as BeadJson[] | undefined) ?? [];
  if (deps.length) lines.push('', 'DEPENDS ON', ...deps.map((d) => `  ${d.dependency_type}: ${beadLine(d)}`));
  const dependents = (bead.dependents as BeadJson[] | undefined) ?? [];
  if (dependents.length) {
    lines.push('', 'DEPENDED ON BY', ...dependents.map((d) => `  ${d.dependency_type}: ${beadLine(d)}`));
  }
  const comments = (bead.comments as BeadJson[] | undefined) ?? [];
  if (comments.length) {
    lines.push('', 'COMMENTS');
    for (const c of comments)
      lines.push(`  ${c.created_at} ${oneLine(String(c.author))}:`, indent(stripControl(String(c.text)), 4));
  }
  return lines.join('\n');
}

function indent(text: string, spaces = 2): string {
  const pad = ' '.repeat(spaces);
  return text
    .split('\n')
    .map((line) => pad + line)
    .join('\n');
}
