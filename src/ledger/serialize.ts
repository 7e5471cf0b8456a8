import type { Bead, Comment, Dependency } from '../core/bead';
import { toRfc3339 } from './time';

/** A bead as beads-compatible JSON: beads' field names, RFC 3339 times, empty fields omitted. */
export type BeadJson = Record<string, unknown>;

export function beadToJson(bead: Bead, labels: readonly string[] = []): BeadJson {
  const json: BeadJson = { id: bead.id, title: bead.title };
  putText(json, 'description', bead.description);
  putText(json, 'design', bead.design);
  putText(json, 'acceptance_criteria', bead.acceptance_criteria);
  putText(json, 'notes', bead.notes);
  json.status = bead.status;
  json.priority = bead.priority;
  json.issue_type = bead.issue_type;
  putText(json, 'assignee', bead.assignee);
  putText(json, 'owner', bead.owner);
  putText(json, 'rig', bead.rig);
  if (bead.estimated_minutes !== null) json.estimated_minutes = bead.estimated_minutes;
  json.created_at = toRfc3339(bead.created_at);
  putText(json, 'created_by', bead.created_by);
  json.updated_at = toRfc3339(bead.updated_at);
  putTime(json, 'started_at', bead.started_at);
  putTime(json, 'closed_at', bead.closed_at);
  putText(json, 'close_reason', bead.close_reason);
  putTime(json, 'due_at', bead.due_at);
  putTime(json, 'defer_until', bead.defer_until);
  putText(json, 'external_ref', bead.external_ref);
  if (bead.metadata && bead.metadata !== '{}') json.metadata = JSON.parse(bead.metadata);
  if (labels.length > 0) json.labels = [...labels];
  return json;
}

export function dependencyToJson(dep: Dependency): BeadJson {
  const json: BeadJson = {
    issue_id: dep.issue_id,
    depends_on_id: dep.depends_on_id,
    type: dep.type,
    created_at: toRfc3339(dep.created_at),
  };
  putText(json, 'created_by', dep.created_by);
  json.metadata = dep.metadata;
  return json;
}

export function commentToJson(comment: Comment): BeadJson {
  return {
    id: comment.id,
    issue_id: comment.issue_id,
    author: comment.author,
    text: comment.text,
    created_at: toRfc3339(comment.created_at),
  };
}

function putText(json: BeadJson, key: string, value: string | null): void {
  if (value !== null && value !== '') json[key] = value;
}

function putTime(json: BeadJson, key: string, value: number | null): void {
  if (value !== null) json[key] = toRfc3339(value);
}
