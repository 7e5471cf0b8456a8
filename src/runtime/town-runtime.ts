import { join } from 'node:path';
import { townLayout } from '../town/layout';
import type { RuntimeKind } from './config-schema';
import { HeadlessProvider } from './headless';
import type { SessionProvider } from './session';
import { TmuxProvider } from './tmux';

/**
 * Where a town's sessions live, so every gt process finds the same ones:
 *   <town>/.gt/tmux.sock                 the town's own tmux server
 *   <town>/.gt/run/tmux/<session>/       launcher scratch (the 0600 env file, deleted at launch)
 *   <town>/.gt/run/headless/<session>/   headless session record: meta.json, stdin FIFO, exit status
 *   <town>/logs/sessions/<session>.log   everything the agent printed
 *   <town>/.gt/locks/nudge-<session>.lock
 */
export function townRuntimePaths(root: string) {
  const layout = townLayout(root);
  return {
    socket: layout.tmuxSocket,
    tmuxState: join(layout.run, 'tmux'),
    headlessState: join(layout.run, 'headless'),
    logs: join(layout.logs, 'sessions'),
    locks: layout.locks,
  };
}

export function sessionLogFile(root: string, session: string): string {
  return join(townRuntimePaths(root).logs, `${session}.log`);
}

export function providerFor(kind: RuntimeKind, root: string): SessionProvider {
  const paths = townRuntimePaths(root);
  return kind === 'headless'
    ? new HeadlessProvider(paths.headlessState)
    : new TmuxProvider({ socket: paths.socket, stateDir: paths.tmuxState });
}

export function runtimeKind(value: string | null | undefined): RuntimeKind {
  return value === 'headless' ? 'headless' : 'tmux';
}
