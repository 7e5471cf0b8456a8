/**
 * Pure graph helpers over an adjacency callback, so the ledger can answer from indexed queries without
 * loading the whole graph.
 */

/** Shortest path from `start` to `goal` following `next`, or null. Includes both ends. */
export function findPath(
  start: string,
  goal: string,
  next: (id: string) => readonly string[],
): string[] | null {
  if (start === goal) return [start];
  const cameFrom = new Map<string, string>();
  const queue: string[] = [start];
  const seen = new Set<string>([start]);
  for (let head = 0; head < queue.length; head++) {
    const current = queue[head]!;
    for (const neighbour of next(current)) {
      if (seen.has(neighbour)) continue;
      seen.add(neighbour);
      cameFrom.set(neighbour, current);
      if (neighbour === goal) return unwind(cameFrom, start, goal);
      queue.push(neighbour);
    }
  }
  return null;
}

function unwind(cameFrom: Map<string, string>, start: string, goal: string): string[] {
  const path = [goal];
  let node = goal;
  while (node !== start) {
    node = cameFrom.get(node)!;
    path.push(node);
  }
  return path.reverse();
}

/**
 * Finds one cycle in a directed graph given as an edge list (Kahn's algorithm, then a walk inside the
 * remainder). Returns the cycle as [a, b, …, a] or null when the graph is acyclic.
 */
export function findCycle(edges: Iterable<readonly [string, string]>): string[] | null {
  const out = new Map<string, string[]>();
  const indegree = new Map<string, number>();
  for (const [from, to] of edges) {
    if (!out.has(from)) out.set(from, []);
    out.get(from)!.push(to);
    indegree.set(to, (indegree.get(to) ?? 0) + 1);
    if (!indegree.has(from)) indegree.set(from, 0);
  }
  const queue = [...indegree].filter(([, d]) => d === 0).map(([id]) => id);
  for (let head = 0; head < queue.length; head++) {
    for (const to of out.get(queue[head]!) ?? []) {
      const remaining = indegree.get(to)! - 1;
      indegree.set(to, remaining);
      if (remaining === 0) queue.push(to);
    }
  }
  const inCycle = new Set([...indegree].filter(([, d]) => d > 0).map(([id]) => id));
  if (inCycle.size === 0) return null;
  // Every node left has a successor that is also left: walk until a node repeats.
  let node = inCycle.values().next().value as string;
  const order = new Map<string, number>();
  const walk: string[] = [];
  while (!order.has(node)) {
    order.set(node, walk.length);
    walk.push(node);
    node = (out.get(node) ?? []).find((to) => inCycle.has(to))!;
  }
  return [...walk.slice(order.get(node)!), node];
}

export function describeCycle(cycle: readonly string[]): string {
  return cycle.join(' → ');
}
