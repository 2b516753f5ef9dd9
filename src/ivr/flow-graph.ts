/**
 * Graph checks for IVR flows: nodes unreachable from `start`, and loops that never wait for
 * the caller (a cycle with no menu in it would spin forever). Works on a plain adjacency list
 * so the validator can run it on flows whose fields are only partly valid: it reports what the
 * graph says and leaves field errors to the field checks.
 */

export interface GraphNode {
  /** The node's `type`, when it is a string. */
  type: string | undefined;
  /** Targets that name existing nodes, in field order. */
  targets: string[];
}

export type Graph = Map<string, GraphNode>;

/** Node ids reachable from `start` (including it), breadth first. */
export function reachableFrom(graph: Graph, start: string): Set<string> {
  const seen = new Set<string>([start]);
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    for (const t of graph.get(queue[i]!)?.targets ?? []) {
      if (!seen.has(t)) {
        seen.add(t);
        queue.push(t);
      }
    }
  }
  return seen;
}

/**
 * Cycles made only of nodes that do not wait for input (anything but `menu`). Each cycle is
 * returned once, as a closed walk starting and ending at its first node in flow order:
 * ['a', 'b', 'a']. Strongly connected components (Tarjan, iterative) find them; a shortest
 * walk back to the first member names one concrete loop per component.
 */
export function inputFreeLoops(graph: Graph): string[][] {
  const order = [...graph.keys()];
  const rank = new Map(order.map((id, i) => [id, i]));
  const succ = (id: string): string[] =>
    graph.get(id)?.type === 'menu' ? [] : (graph.get(id)?.targets ?? []).filter((t) => graph.has(t) && graph.get(t)!.type !== 'menu');

  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;

  for (const root of order) {
    if (index.has(root) || graph.get(root)!.type === 'menu') continue;
    const work: Array<{ id: string; next: number }> = [{ id: root, next: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const targets = succ(frame.id);
      if (frame.next < targets.length) {
        const t = targets[frame.next++]!;
        if (!index.has(t)) {
          index.set(t, counter);
          low.set(t, counter++);
          stack.push(t);
          onStack.add(t);
          work.push({ id: t, next: 0 });
        } else if (onStack.has(t)) {
          low.set(frame.id, Math.min(low.get(frame.id)!, index.get(t)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.id, Math.min(low.get(parent.id)!, low.get(frame.id)!));
      if (low.get(frame.id) === index.get(frame.id)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.id);
        const selfLoop = component.length === 1 && succ(frame.id).includes(frame.id);
        if (component.length > 1 || selfLoop) components.push(component);
      }
    }
  }

  return components
    .map((c) => {
      const members = new Set(c);
      const first = [...c].sort((a, b) => rank.get(a)! - rank.get(b)!)[0]!;
      return shortestWalkBack(first, (id) => succ(id).filter((t) => members.has(t)));
    })
    .sort((a, b) => rank.get(a[0]!)! - rank.get(b[0]!)!);
}

function shortestWalkBack(first: string, succ: (id: string) => string[]): string[] {
  const parent = new Map<string, string>();
  const queue = [first];
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i]!;
    for (const t of succ(id)) {
      if (t === first) {
        const walk = [first];
        for (let at: string | undefined = id; at !== undefined && at !== first; at = parent.get(at)) walk.unshift(at);
        walk.unshift(first);
        return walk;
      }
      if (!parent.has(t)) {
        parent.set(t, id);
        queue.push(t);
      }
    }
  }
  return [first, first]; // unreachable for a real component; keeps the return total
}
