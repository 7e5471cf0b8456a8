import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { orphanSessions, ownedSessionNames } from '../../src/core/orphans';
import { decideReescalation, type EscalationClock, raisedSeverity } from '../../src/core/reescalate';

const MIN = 60_000;
const base: EscalationClock = {
  severity: 'MEDIUM',
  status: 'open',
  created_at: 1_000_000,
  last_reescalated_at: null,
  reescalations: 0,
};

describe('re-escalation rule', () => {
  test('severity rises one step and is capped at CRITICAL', () => {
    assert.equal(raisedSeverity('MEDIUM'), 'HIGH');
    assert.equal(raisedSeverity('HIGH'), 'CRITICAL');
    assert.equal(raisedSeverity('CRITICAL'), 'CRITICAL');
  });

  test('not due before the period, due at and after it', () => {
    const before = decideReescalation(base, base.created_at + 30 * MIN - 1, 30 * MIN);
    assert.deepEqual(before, { due: false, reason: 'not-yet', next_at: base.created_at + 30 * MIN });
    assert.deepEqual(decideReescalation(base, base.created_at + 30 * MIN, 30 * MIN), {
      due: true,
      from: 'MEDIUM',
      to: 'HIGH',
      reescalations: 1,
    });
  });

  test('the period restarts at the last re-escalation: one per period, no burst after downtime', () => {
    const raised: EscalationClock = {
      ...base,
      severity: 'HIGH',
      reescalations: 1,
      last_reescalated_at: base.created_at + 30 * MIN,
    };
    // Five periods after creation but only a moment after the last re-escalation: not due.
    assert.equal(decideReescalation(raised, base.created_at + 30 * MIN + 1000, 30 * MIN).due, false);
    // A daemon down for hours: one re-escalation now (the caller records it, which restarts the period).
    const late = decideReescalation(
      { ...raised, last_reescalated_at: base.created_at },
      base.created_at + 300 * MIN,
      30 * MIN,
    );
    assert.deepEqual(late, { due: true, from: 'HIGH', to: 'CRITICAL', reescalations: 2 });
  });

  test('CRITICAL keeps being re-sent each period, still CRITICAL', () => {
    const critical: EscalationClock = {
      ...base,
      severity: 'CRITICAL',
      reescalations: 4,
      last_reescalated_at: base.created_at,
    };
    assert.deepEqual(decideReescalation(critical, base.created_at + 31 * MIN, 30 * MIN), {
      due: true,
      from: 'CRITICAL',
      to: 'CRITICAL',
      reescalations: 5,
    });
  });

  test('acknowledged or closed escalations are never re-escalated; 0 disables', () => {
    const later = base.created_at + 1000 * MIN;
    assert.equal(decideReescalation({ ...base, status: 'acked' }, later, 30 * MIN).due, false);
    assert.equal(decideReescalation({ ...base, status: 'closed' }, later, 30 * MIN).due, false);
    assert.deepEqual(decideReescalation(base, later, 0), { due: false, reason: 'disabled', next_at: null });
  });
});

describe('orphaned sessions', () => {
  const owners = [
    { session: 'gt-app-nux', expected: 'gt-app-nux' },
    // Being started: the row exists, its session column not yet written.
    { session: null, expected: 'gt-app-slit' },
    { session: 'gt-mayor', expected: 'gt-mayor' },
  ];
  const now = 10_000_000;

  test('a session is owned by its recorded name or its identity name', () => {
    assert.deepEqual([...ownedSessionNames(owners)].sort(), ['gt-app-nux', 'gt-app-slit', 'gt-mayor']);
  });

  test('only unowned sessions older than the grace period are orphans', () => {
    const live = [
      { name: 'gt-app-nux', created_at: 0 },
      { name: 'gt-app-slit', created_at: 0 },
      { name: 'gt-app-ghost', created_at: now - 60_000 },
      { name: 'gt-app-newborn', created_at: now - 1000 },
      { name: 'stray', created_at: null },
    ];
    assert.deepEqual(orphanSessions(live, ownedSessionNames(owners), now, 15_000), ['gt-app-ghost', 'stray']);
  });
});
