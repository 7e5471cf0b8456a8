import { GtError } from '../core/errors';

/**
 * Fault injection for crash/rollback tests: `GT_FAULT=<point>[,<point>…]`.
 *
 *   crashPoint('done:after-push')  the process exits at once (status 86), as if killed there
 *   failPoint('sling:checkout')    the step throws, as if it had failed there
 *
 * Points are named `<command>:<step>` and listed in docs/work-loop.md. Unset in normal use.
 */
export const FAULT_EXIT_CODE = 86;

function active(point: string, env: NodeJS.ProcessEnv): boolean {
  const spec = env.GT_FAULT;
  if (!spec) return false;
  return spec
    .split(',')
    .map((p) => p.trim())
    .includes(point);
}

export function crashPoint(point: string, env: NodeJS.ProcessEnv = process.env): void {
  if (!active(point, env)) return;
  process.stderr.write(`gt: fault injected at ${point} (GT_FAULT): exiting\n`);
  process.exit(FAULT_EXIT_CODE);
}

export function failPoint(point: string, env: NodeJS.ProcessEnv = process.env): void {
  if (!active(point, env)) return;
  throw new GtError('GT_E_IO', `fault injected at ${point} (GT_FAULT)`, {
    hint: 'unset GT_FAULT; it is for tests only',
  });
}
