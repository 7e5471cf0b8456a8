import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Process-tree inspection and killing. Liveness is judged by the process itself (alive and not a
 * zombie), and a kill takes every descendant, because agents spawn shells, language servers and test
 * runners that would otherwise outlive their session.
 */
export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  /** Single-letter state from /proc or ps (R, S, Z, …). */
  state: string;
  /** Start time in clock ticks since boot (Linux only): guards against pid reuse. */
  startTime: number | null;
}

const hasProc = process.platform === 'linux';

function parseProcStat(text: string): ProcInfo | null {
  // The command name is in parentheses and may itself contain spaces or ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const pid = Number.parseInt(text, 10);
  const fields = text
    .slice(close + 2)
    .trim()
    .split(' ');
  const state = fields[0] ?? '?';
  return {
    pid,
    state,
    ppid: Number(fields[1]),
    pgid: Number(fields[2]),
    startTime: Number(fields[19]),
  };
}

export function procInfo(pid: number): ProcInfo | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (hasProc) {
    try {
      return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return null;
    }
  }
  return listProcesses().find((p) => p.pid === pid) ?? null;
}

export function listProcesses(): ProcInfo[] {
  if (hasProc) {
    const out: ProcInfo[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const info = parseProcStat(readFileSync(`/proc/${entry}/stat`, 'utf8'));
        if (info) out.push(info);
      } catch {
        // The process exited while we listed.
      }
    }
    return out;
  }
  const text = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,pgid=,stat='], { encoding: 'utf8' });
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 4)
    .map(([pid, ppid, pgid, stat]) => ({
      pid: Number(pid),
      ppid: Number(ppid),
      pgid: Number(pgid),
      state: (stat ?? '?').charAt(0),
      startTime: null,
    }));
}

/** Alive means running and not a zombie (a killed child not yet reaped still answers kill(pid, 0)). */
export function isProcessAlive(pid: number | null | undefined, startTime?: number | null): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const info = procInfo(pid);
  if (hasProc && !info) return false;
  if (info?.state === 'Z' || info?.state === 'X') return false;
  if (startTime != null && info?.startTime != null && info.startTime !== startTime) return false;
  return true;
}

/** The pid and all its descendants, parents first. */
export function processTree(rootPid: number, procs: ProcInfo[] = listProcesses()): number[] {
  const children = new Map<number, number[]>();
  for (const p of procs) {
    const list = children.get(p.ppid) ?? [];
    list.push(p.pid);
    children.set(p.ppid, list);
  }
  const out: number[] = [];
  const queue = [rootPid];
  const seen = new Set<number>();
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone, or not ours.
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * SIGTERM the whole tree (and the root's process group), wait up to graceMs, then SIGKILL survivors.
 * The tree is snapshotted first: once the root dies its children are re-parented and lose the link.
 */
export async function killProcessTree(rootPid: number, graceMs = 1500): Promise<void> {
  if (!rootPid || rootPid <= 1 || rootPid === process.pid) return;
  const procs = listProcesses();
  const root = procs.find((p) => p.pid === rootPid);
  const tree = processTree(rootPid, procs).filter((pid) => pid !== process.pid);
  // Members of the root's own process group that escaped the tree (double-forked daemons).
  const groupLeader = root && root.pgid === rootPid ? rootPid : null;
  if (groupLeader) {
    for (const p of procs) if (p.pgid === groupLeader && !tree.includes(p.pid)) tree.push(p.pid);
  }
  if (groupLeader) signal(-groupLeader, 'SIGTERM');
  for (const pid of tree) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!tree.some((pid) => isProcessAlive(pid))) return;
    await sleep(50);
  }
  if (groupLeader) signal(-groupLeader, 'SIGKILL');
  for (const pid of tree) if (isProcessAlive(pid)) signal(pid, 'SIGKILL');
}
