// The layered layout of a run's step graph: jobs are nodes, depends_on are
// edges, layers go left to right. A job's layer is one past its deepest
// dependency (longest path), and a few barycentre sweeps order each layer so
// that edges cross less. Small enough that a graph library would cost more
// than it saves.

export interface GraphJob {
  key: string;
  depends_on?: string[] | null;
}

export interface PlacedNode {
  key: string;
  layer: number;
  /** position inside its layer, from the top */
  order: number;
  x: number;
  y: number;
}

export interface PlacedEdge {
  from: string;
  to: string;
  /**
   * an SVG path (M, C and L only) from the right side of from to the left
   * side of to; an edge that skips layers crosses them between their nodes
   */
  path: string;
}

export interface Layout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

export interface LayoutOptions {
  nodeWidth: number;
  nodeHeight: number;
  gapX: number;
  gapY: number;
  padding: number;
}

export const defaultLayoutOptions: LayoutOptions = { nodeWidth: 180, nodeHeight: 44, gapX: 56, gapY: 16, padding: 8 };

/**
 * layers assigns each job its layer. Dependencies on keys that are not in the
 * run are ignored; a cycle (which the control plane refuses) cannot hang it:
 * a job on a cycle gets the layer it had when the cycle was found.
 */
export function layers(jobs: GraphJob[]): Map<string, number> {
  const byKey = new Map(jobs.map((j) => [j.key, j]));
  const layer = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (key: string): number => {
    const known = layer.get(key);
    if (known !== undefined) return known;
    if (visiting.has(key)) return 0;
    visiting.add(key);
    let l = 0;
    for (const dep of byKey.get(key)?.depends_on ?? []) {
      if (dep !== key && byKey.has(dep)) l = Math.max(l, visit(dep) + 1);
    }
    visiting.delete(key);
    layer.set(key, l);
    return l;
  };
  for (const j of jobs) visit(j.key);
  return layer;
}

/** layout places the jobs; the order of jobs breaks ties (pipeline order). */
export function layout(jobs: GraphJob[], opts: LayoutOptions = defaultLayoutOptions): Layout {
  const seen = new Set<string>();
  jobs = jobs.filter((j) => (seen.has(j.key) ? false : (seen.add(j.key), true)));
  const layerOf = layers(jobs);
  const count = jobs.length === 0 ? 0 : Math.max(...layerOf.values()) + 1;
  const columns: string[][] = Array.from({ length: count }, () => []);
  for (const j of jobs) columns[layerOf.get(j.key)!].push(j.key);

  const keys = new Set(jobs.map((j) => j.key));
  const deps = new Map(jobs.map((j) => [j.key, (j.depends_on ?? []).filter((d) => keys.has(d) && d !== j.key)]));
  const dependents = new Map<string, string[]>(jobs.map((j) => [j.key, []]));
  for (const [k, ds] of deps) for (const d of ds) dependents.get(d)!.push(k);

  // Barycentre sweeps: order each layer by the mean position of its
  // neighbours in the previous (then next) layer; stable for ties.
  const position = new Map<string, number>();
  const index = () => columns.forEach((col) => col.forEach((k, i) => position.set(k, i)));
  index();
  const sortBy = (col: string[], neighbours: (k: string) => string[]) => {
    const score = new Map<string, number>();
    for (const k of col) {
      const ns = neighbours(k);
      score.set(k, ns.length ? ns.reduce((a, n) => a + position.get(n)!, 0) / ns.length : position.get(k)!);
    }
    col.sort((a, b) => score.get(a)! - score.get(b)! || position.get(a)! - position.get(b)!);
    col.forEach((k, i) => position.set(k, i));
  };
  for (let sweep = 0; sweep < 4; sweep++) {
    for (let l = 1; l < count; l++) sortBy(columns[l], (k) => deps.get(k)!);
    for (let l = count - 2; l >= 0; l--) sortBy(columns[l], (k) => dependents.get(k)!);
  }

  const { nodeWidth: w, nodeHeight: h, gapX, gapY, padding } = opts;
  // An edge that skips a layer is routed through lanes between (or above and
  // below) that layer's nodes; keep room above and below for those lanes.
  const skips = jobs.some((j) => deps.get(j.key)!.some((d) => layerOf.get(j.key)! - layerOf.get(d)! > 1));
  const laneRoom = skips ? gapY + 4 : 0;
  const tallest = Math.max(0, ...columns.map((c) => c.length));
  const height = tallest === 0 ? 0 : padding * 2 + laneRoom * 2 + tallest * h + (tallest - 1) * gapY;
  const width = count === 0 ? 0 : padding * 2 + count * w + (count - 1) * gapX;
  const placed = new Map<string, PlacedNode>();
  columns.forEach((col, l) => {
    const colHeight = col.length * h + (col.length - 1) * gapY;
    const top = padding + (height - padding * 2 - colHeight) / 2;
    col.forEach((key, order) => {
      placed.set(key, { key, layer: l, order, x: padding + l * (w + gapX), y: top + order * (h + gapY) });
    });
  });

  // The lanes of each layer: y positions a horizontal line can cross the
  // layer at without touching a node (each with the room it has either side).
  const lanes = columns.map((col) => {
    const ys = col.map((k) => placed.get(k)!.y);
    const out: Array<{ y: number; room: number }> = [];
    if (ys.length) out.push({ y: ys[0] - gapY / 2 - 2, room: gapY / 2 });
    for (let i = 1; i < ys.length; i++) out.push({ y: (ys[i - 1] + h + ys[i]) / 2, room: (ys[i] - ys[i - 1] - h) / 2 });
    if (ys.length) out.push({ y: ys[ys.length - 1] + h + gapY / 2 + 2, room: gapY / 2 });
    return out.filter((lane) => lane.y > 0 && lane.y < height);
  });
  const laneUse = new Map<string, number>();
  const colX = (l: number) => padding + l * (w + gapX);
  // An S-curve from (xa, ya) to (xb, yb): it stays between the two x's.
  const curve = (xa: number, ya: number, xb: number, yb: number) => {
    const mid = (xa + xb) / 2;
    return ` C${mid},${ya} ${mid},${yb} ${xb},${yb}`;
  };

  const edges: PlacedEdge[] = [];
  for (const j of jobs) {
    const to = placed.get(j.key)!;
    for (const d of deps.get(j.key)!) {
      const from = placed.get(d)!;
      const x1 = from.x + w;
      const y1 = from.y + h / 2;
      const x2 = to.x;
      const y2 = to.y + h / 2;
      let path = `M${x1},${y1}`;
      let x = x1;
      let y = y1;
      // Through each layer in between, along the lane that bends the least.
      for (let l = from.layer + 1; l < to.layer; l++) {
        let best = 0;
        let cost = Infinity;
        lanes[l].forEach((lane, i) => {
          const c = Math.abs(lane.y - y) + Math.abs(lane.y - y2);
          if (c < cost - 0.001) (best = i), (cost = c);
        });
        const lane = lanes[l][best];
        if (!lane) continue; // cannot happen: every layer has a node, so lanes
        const key = `${l}:${best}`;
        const used = laneUse.get(key) ?? 0;
        laneUse.set(key, used + 1);
        // Later edges in the same lane run beside the first, inside its room.
        const step = Math.ceil(used / 2) * 4 * (used % 2 ? -1 : 1);
        const ly = lane.y + Math.max(-(lane.room - 3), Math.min(lane.room - 3, step));
        path += curve(x, y, colX(l), ly) + ` L${colX(l) + w},${ly}`;
        x = colX(l) + w;
        y = ly;
      }
      path += curve(x, y, x2, y2);
      edges.push({ from: d, to: j.key, path });
    }
  }
  return { nodes: jobs.map((j) => placed.get(j.key)!), edges, width, height };
}

export type Direction = 'left' | 'right' | 'up' | 'down';

/**
 * neighbour is the node that the arrow keys move to from key: up and down
 * within its layer, left and right to the nearest node (by height) of the
 * layer before or after. null when there is none.
 */
export function neighbour(nodes: PlacedNode[], key: string, dir: Direction): string | null {
  const at = nodes.find((n) => n.key === key);
  if (!at) return nodes[0]?.key ?? null;
  if (dir === 'up' || dir === 'down') {
    const want = at.order + (dir === 'up' ? -1 : 1);
    return nodes.find((n) => n.layer === at.layer && n.order === want)?.key ?? null;
  }
  const layer = at.layer + (dir === 'left' ? -1 : 1);
  let best: PlacedNode | null = null;
  for (const n of nodes) {
    if (n.layer !== layer) continue;
    if (!best || Math.abs(n.y - at.y) < Math.abs(best.y - at.y)) best = n;
  }
  return best?.key ?? null;
}
