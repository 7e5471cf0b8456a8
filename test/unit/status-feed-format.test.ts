import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  activityToFeed,
  type BeadEventRow,
  beadEventToFeed,
  type FeedEvent,
  formatFeedLine,
  type MrEventRow,
  mergeFeed,
  mrEventToFeed,
  parseSince,
} from '../../src/core/feed-format';
import { renderTownStatus, type TownStatus } from '../../src/core/status-format';
import { BUSY_STATES } from '../../src/services/polecats';
import {
  STATUS_BUSY_STATES,
  STATUS_DEFAULT_MAX_POLECATS,
  STATUS_SCALE_PRESETS,
} from '../../src/services/status';
import { DEFAULT_MAX_POLECATS, SCALE_PRESETS } from '../../src/town/config';

const HOSTILE = 'Add \u001b[31mred\u001b[0m \u001b]0;pwned\u0007login\u009b2J\r\nnow';
// Anything a terminal would act on: ESC, BEL, CSI (C1), CR, other C0 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function beadRow(over: Partial<BeadEventRow>): BeadEventRow {
  return {
    id: 1,
    issue_id: 'app-x1',
    event_type: 'created',
    actor: 'human',
    old_value: null,
    new_value: null,
    comment: null,
    created_at: 1_700_000_000_000,
    title: 'Add login',
    issue_type: 'task',
    rig: 'app',
    severity: null,
    ...over,
  };
}

function mrRow(over: Partial<MrEventRow>): MrEventRow {
  return {
    id: 1,
    mr_id: 7,
    event: 'created',
    from_state: null,
    to_state: 'queued',
    actor: 'app/nux',
    detail: null,
    created_at: 1_700_000_000_000,
    bead_id: 'app-x1',
    rig: 'app',
    agent_id: 'app/nux',
    branch: 'polecat/nux/app-x1',
    ...over,
  };
}

describe('feed: classification', () => {
  test('bead events: create, sling (hooked), status, close, escalation, re-escalation', () => {
    assert.equal(beadEventToFeed(beadRow({})).kind, 'create');
    const sling = beadEventToFeed(
      beadRow({
        event_type: 'updated',
        old_value: '{"status":"open"}',
        new_value: '{"status":"hooked","assignee":"app/nux"}',
      }),
    );
    assert.equal(sling.kind, 'sling');
    assert.equal(sling.agent, 'app/nux');
    assert.match(sling.text, /hooked by app\/nux/);
    const review = beadEventToFeed(
      beadRow({
        event_type: 'updated',
        old_value: '{"status":"in_progress"}',
        new_value: '{"status":"in_review"}',
      }),
    );
    assert.equal(review.kind, 'status');
    assert.match(review.text, /in_progress → in_review/);
    assert.equal(
      beadEventToFeed(beadRow({ event_type: 'closed', new_value: '{"status":"closed","reason":"merged"}' }))
        .kind,
      'close',
    );
    const esc = beadEventToFeed(beadRow({ issue_type: 'escalation', severity: 'HIGH', title: 'db down' }));
    assert.equal(esc.kind, 'escalation');
    assert.equal(esc.text, '[HIGH] db down');
    const re = beadEventToFeed(
      beadRow({
        event_type: 'escalation_reescalated',
        old_value: '{"severity":"HIGH"}',
        new_value: '{"severity":"CRITICAL"}',
      }),
    );
    assert.equal(re.kind, 'reescalate');
    assert.match(re.text, /HIGH → CRITICAL/);
  });

  test('MR events: done (queued), merge, reject, other transitions', () => {
    assert.equal(mrEventToFeed(mrRow({})).kind, 'done');
    assert.equal(
      mrEventToFeed(mrRow({ event: 'landed', from_state: 'testing', to_state: 'merged' })).kind,
      'merge',
    );
    const rejected = mrEventToFeed(
      mrRow({ event: 'rejected', from_state: 'testing', to_state: 'rejected', detail: 'gate failed' }),
    );
    assert.equal(rejected.kind, 'reject');
    assert.match(rejected.text, /gate failed/);
    assert.equal(
      mrEventToFeed(mrRow({ event: 'sheriff', from_state: 'queued', to_state: 'sheriff' })).kind,
      'mr',
    );
  });

  test('activity rows keep their kind', () => {
    const e = activityToFeed({
      id: 3,
      at: 5,
      kind: 'restart',
      actor: 'witness',
      rig: 'app',
      agent: 'app/nux',
      bead: 'app-x1',
      detail: 'zombie',
    });
    assert.equal(e.kind, 'restart');
    assert.equal(e.text, 'app/nux app-x1: zombie');
  });

  test('hostile ledger text is stripped in every field, for text and JSON alike', () => {
    const events: FeedEvent[] = [
      beadEventToFeed(beadRow({ title: HOSTILE, actor: HOSTILE })),
      beadEventToFeed(beadRow({ event_type: 'commented', comment: HOSTILE })),
      mrEventToFeed(mrRow({ to_state: 'rejected', event: 'rejected', detail: HOSTILE, branch: HOSTILE })),
      activityToFeed({
        id: 1,
        at: 1,
        kind: HOSTILE,
        actor: HOSTILE,
        rig: HOSTILE,
        agent: HOSTILE,
        bead: HOSTILE,
        detail: HOSTILE,
      }),
    ];
    for (const e of events) {
      for (const value of Object.values(e)) {
        if (typeof value === 'string') assert.doesNotMatch(value, CONTROL, JSON.stringify(value));
      }
      assert.doesNotMatch(formatFeedLine(e, { color: false }), CONTROL);
    }
    assert.match(events[0]!.text, /^Add red login now$/);
  });
});

describe('feed: order and rendering', () => {
  const ev = (source: FeedEvent['source'], id: number, at: number): FeedEvent => ({
    source,
    id,
    at,
    kind: 'x',
    actor: 'a',
    rig: null,
    agent: null,
    bead: null,
    mr: null,
    text: `${source}${id}`,
  });

  test('merged in time order, ties by source then id, keeping the newest n', () => {
    const merged = mergeFeed([
      [ev('bead', 1, 10), ev('bead', 2, 30)],
      [ev('mr', 1, 20), ev('mr', 2, 30)],
      [ev('activity', 9, 5)],
    ]);
    assert.deepEqual(
      merged.map((e) => e.text),
      ['activity9', 'bead1', 'mr1', 'bead2', 'mr2'],
    );
    assert.deepEqual(
      mergeFeed([[ev('bead', 1, 10), ev('bead', 2, 30)], [ev('mr', 1, 20)]], 2).map((e) => e.text),
      ['mr1', 'bead2'],
    );
  });

  test('plain lines have no escapes and a UTC time; coloured ones paint the kind', () => {
    const e = { ...ev('mr', 1, Date.UTC(2024, 4, 1, 12, 0, 0)), kind: 'merge', text: 'MR #1 merged' };
    assert.equal(formatFeedLine(e, { color: false }).slice(0, 24), '2024-05-01T12:00:00.000Z');
    assert.doesNotMatch(formatFeedLine(e, { color: false }), /\u001b/);
    assert.match(formatFeedLine(e, { color: true }), /\u001b\[32mmerge/);
  });

  test('--since takes durations and absolute times', () => {
    const now = Date.UTC(2024, 4, 1, 12, 0, 0);
    assert.equal(parseSince('10m', now), now - 600_000);
    assert.equal(parseSince('1h30m', now), now - 5_400_000);
    assert.equal(parseSince('2d', now), now - 2 * 86_400_000);
    assert.equal(parseSince('90', now), now - 90_000);
    assert.equal(parseSince('2024-05-01T11:00:00Z', now), now - 3_600_000);
    assert.equal(parseSince('yesterday', now), undefined);
    assert.equal(parseSince('10 minutes', now), undefined);
  });
});

describe('status: rendering', () => {
  const status: TownStatus = {
    town: { name: 'hq', root: '/t' },
    generated_at: '2024-05-01T12:00:00.000Z',
    daemon: {
      health: 'running',
      pid: 42,
      started_at: '2024-05-01T11:00:00.000Z',
      heartbeat_at: '2024-05-01T12:00:00.000Z',
      heartbeat_age_ms: 1000,
      controllers: [
        { name: 'deacon', state: 'sleeping', ticks: 9, failures: 0, last_tick_at: 'x', last_error: null },
        {
          name: 'refinery:app',
          state: 'broken',
          ticks: 1,
          failures: 5,
          last_tick_at: null,
          last_error: 'boom',
        },
      ],
      deacon: { state: 'sleeping', last_tick_at: '2024-05-01T11:59:56.000Z', last_tick_age_ms: 4000 },
    },
    dispatch: { paused: true, since: '2024-05-01T11:30:00.000Z', by: 'human' },
    capacity: { max_polecats: 10, busy: 3 },
    sling_queue: { length: 2 },
    rigs: [
      {
        name: 'app',
        parked: false,
        polecats: {
          total: 4,
          by_state: { working: 3, starting: 0, idle: 0, stalled: 1, zombie: 0, done: 0, stopped: 0 },
          by_health: {},
          agents: [
            {
              id: 'app/nux',
              state: 'stalled',
              health: 'stalled',
              hooked_bead: 'app-x1',
              last_activity_at: null,
            },
            {
              id: 'app/slit',
              state: 'working',
              health: 'working',
              hooked_bead: 'app-x2',
              last_activity_at: null,
            },
          ],
        },
        merge_queue: {
          by_state: { queued: 1, sheriff: 0, ready: 0, testing: 2, merged: 5, rejected: 1 },
          open: 3,
          open_batches: 1,
        },
      },
    ],
    convoys: { open: [{ id: 'hq-c1', name: `Auth ${HOSTILE}`, merged: 2, total: 5 }], landed: 1 },
    escalations: {
      open: 1,
      unacked: 1,
      by_severity: { CRITICAL: 1, HIGH: 0, MEDIUM: 0 },
      items: [
        {
          id: 'hq-e1',
          severity: 'CRITICAL',
          status: 'open',
          summary: 'db down',
          source_agent: 'app/nux',
          created_at: 'x',
          reescalations: 2,
        },
      ],
    },
    warnings: [],
  };

  test('one screen with every section, and nothing a terminal would act on', () => {
    const text = renderTownStatus(status);
    assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    assert.match(text, /^town: hq/);
    assert.match(
      text,
      /daemon: running \(pid 42, heartbeat 1s ago\); deacon sleeping, last tick 4s ago; 1 of 2 controllers failing/,
    );
    assert.match(text, /! refinery:app broken: boom/);
    assert.match(
      text,
      /dispatch: PAUSED since .* by human \(gt resume\); polecats 3\/10 busy; sling queue 2/,
    );
    assert.match(
      text,
      /rig app: 4 polecats \(working 3, stalled 1\); mq queued 1, testing 2; merged 5, rejected 1; 1 open batch/,
    );
    assert.match(text, /! app\/nux stalled \(hooked app-x1\)/);
    assert.doesNotMatch(text, /app\/slit/);
    assert.match(text, /convoys: 1 open, 1 landed/);
    assert.match(text, /hq-c1 +2\/5 +Auth Add red/);
    assert.match(text, /escalations: 1 open \(CRITICAL 1; 1 unacknowledged\)/);
    assert.match(text, /re-escalated 2×/);
    assert.ok(text.split('\n').length < 25);
  });

  test('no daemon', () => {
    const text = renderTownStatus({
      ...status,
      daemon: { ...status.daemon, health: 'not-running', controllers: [], deacon: null },
    });
    assert.match(text, /daemon: not running \(start it with 'gt up'\)/);
  });

  test("the status service's copies of the capacity constants agree with the originals", () => {
    assert.deepEqual(STATUS_SCALE_PRESETS, SCALE_PRESETS);
    assert.equal(STATUS_DEFAULT_MAX_POLECATS, DEFAULT_MAX_POLECATS);
    assert.deepEqual([...STATUS_BUSY_STATES], [...BUSY_STATES]);
  });
});
