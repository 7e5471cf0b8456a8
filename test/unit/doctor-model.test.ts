import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseGitVersion } from '../../src/git/git';
import {
  compareVersions,
  MIN_VERSIONS,
  ownerPid,
  parseNodeVersion,
  parseTmuxVersion,
} from '../../src/town/doctor/model';

test('tool versions are parsed and compared', () => {
  assert.deepEqual(parseGitVersion('git version 2.39.5 (Apple Git-143)'), [2, 39, 5]);
  assert.deepEqual(parseGitVersion('git version 2.25'), [2, 25, 0]);
  assert.ok(compareVersions([2, 24, 9], MIN_VERSIONS.git) < 0);
  assert.ok(compareVersions([2, 25, 0], MIN_VERSIONS.git) >= 0);
  assert.deepEqual(parseTmuxVersion('tmux 3.3a'), [3, 3]);
  assert.deepEqual(parseTmuxVersion('tmux next-3.5'), [3, 5]);
  assert.equal(parseTmuxVersion('tmux master'), undefined);
  assert.ok(compareVersions(parseTmuxVersion('tmux 2.9a') ?? [], MIN_VERSIONS.tmux) < 0);
  assert.ok(compareVersions(parseNodeVersion('v20.11.1'), MIN_VERSIONS.node) >= 0);
  assert.ok(compareVersions(parseNodeVersion('18.19.0'), MIN_VERSIONS.node) < 0);
});

test('lock and pid files name their owner', () => {
  assert.equal(ownerPid('1234\n'), 1234);
  assert.equal(ownerPid('{"pid": 42, "at": 1}'), 42);
  assert.equal(ownerPid('{"owner": "x"}'), undefined);
  assert.equal(ownerPid(''), undefined);
  assert.equal(ownerPid('hello'), undefined);
  assert.equal(ownerPid('0'), undefined);
});
