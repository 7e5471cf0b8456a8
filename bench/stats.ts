import { spawnSync } from 'node:child_process';

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Median wall time (ms) of a whole process, after one warm-up run. */
export function processMedianMs(
  command: string,
  args: readonly string[],
  options: { cwd: string; runs?: number; env?: NodeJS.ProcessEnv },
): number {
  const runs = options.runs ?? 15;
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const start = process.hrtime.bigint();
    const result = spawnSync(command, args as string[], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: 'ignore',
    });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}`);
    if (i > 0) times.push(ms);
  }
  return median(times);
}

/** Median time (ms) of an in-process function. */
export function inProcessMedianMs(fn: () => unknown, runs = 30): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(times);
}

export function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}

/**
 * Medians of whole-process wall times, with a bare `node -e 0` run interleaved before each command so
 * that load drift on a shared machine hits both sides of the ratio alike.
 */
export function processMediansVsBare(
  commands: Record<string, readonly string[]>,
  options: { cwd: string; runs?: number },
): { bare: number; medians: Record<string, number> } {
  const runs = options.runs ?? 15;
  const bare: number[] = [];
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  const timeOnce = (args: readonly string[]) => {
    const start = process.hrtime.bigint();
    const result = spawnSync(process.execPath, args as string[], { cwd: options.cwd, stdio: 'ignore' });
    if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited ${result.status}`);
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  for (let i = 0; i <= runs; i++) {
    for (const [name, args] of Object.entries(commands)) {
      const b = timeOnce(['-e', '0']);
      const t = timeOnce(args);
      if (i === 0) continue; // warm-up
      bare.push(b);
      times[name]!.push(t);
    }
  }
  return {
    bare: median(bare),
    medians: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])),
  };
}
