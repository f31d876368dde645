// The run's step graph: one node per job, an edge per depends_on, coloured by
// state. Nodes are buttons (click, Enter or Space) that select the job; the
// arrow keys move between them (left and right along the edges' direction,
// up and down within a layer).
import { useMemo, useRef } from 'react';
import type { KeyboardEvent } from 'react';
import type { Job } from '../lib/api.ts';
import { defaultLayoutOptions, layout, neighbour } from '../lib/dag.ts';
import type { Direction } from '../lib/dag.ts';
import { stateClass, stateLabel } from './StateBadge.tsx';
import { displayLabel, truncate } from '../lib/format.ts';

const { nodeWidth: W, nodeHeight: H } = defaultLayoutOptions;

/** LabelChars is how many characters of a label fit in a node's box. */
const LabelChars = 22;

export function Graph({ jobs, selected, onSelect }: { jobs: Job[]; selected: string | null; onSelect: (key: string) => void }) {
  const placed = useMemo(() => layout(jobs), [jobs]);
  const byKey = useMemo(() => new Map(jobs.map((j) => [j.key, j])), [jobs]);
  const svg = useRef<SVGSVGElement>(null);
  const arrows: Record<string, Direction> = { ArrowLeft: 'left', ArrowRight: 'right', ArrowUp: 'up', ArrowDown: 'down' };
  const key = (k: string) => (e: KeyboardEvent) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      onSelect(k);
      return;
    }
    const dir = arrows[e.key];
    if (!dir || e.altKey || e.ctrlKey || e.metaKey) return;
    e.preventDefault();
    const next = neighbour(placed.nodes, k, dir);
    if (!next) return;
    for (const el of svg.current?.querySelectorAll<SVGGElement>('[data-testid="graph-node"]') ?? []) {
      if (el.dataset.key === next) el.focus();
    }
  };
  return (
    <div className="graph-scroll" data-testid="graph">
      <svg
        className="graph"
        ref={svg}
        width={placed.width}
        height={placed.height}
        viewBox={`0 0 ${placed.width} ${placed.height}`}
        role="group"
        aria-label={`Step graph: ${jobs.length} jobs`}
      >
        <defs>
          <marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L8,4 L0,8 z" className="graph-arrow" />
          </marker>
        </defs>
        {placed.edges.map((e) => (
          <path
            key={`${e.from}->${e.to}`}
            d={e.path}
            className={`graph-edge ${stateClass(byKey.get(e.from)?.state ?? '')}`}
            markerEnd="url(#arrow)"
          />
        ))}
        {placed.nodes.map((n) => {
          const job = byKey.get(n.key)!;
          // The box shows as much of the label as fits; the accessible name
          // and the <title> tooltip always carry all of it.
          const label = displayLabel(job.label, job.key);
          const shown = truncate(label, LabelChars);
          return (
            <g
              key={n.key}
              transform={`translate(${n.x},${n.y})`}
              className={`graph-node ${stateClass(job.state)}${selected === n.key ? ' selected' : ''}`}
              role="button"
              tabIndex={0}
              aria-pressed={selected === n.key}
              aria-label={`${label}: ${stateLabel(job.state)}`}
              data-testid="graph-node"
              data-key={n.key}
              data-state={job.state}
              onClick={() => onSelect(n.key)}
              onKeyDown={key(n.key)}
            >
              <title>{`${label} (${job.key}) — ${stateLabel(job.state)}`}</title>
              <rect x={-4} y={-4} width={W + 8} height={H + 8} rx={11} className="graph-focus" />
              <rect width={W} height={H} rx={8} className="graph-box" />
              <rect width={5} height={H} rx={2} className="graph-stripe" />
              <text x={16} y={18} className="graph-label" aria-hidden="true">
                {shown}
              </text>
              <text x={16} y={34} className="graph-sub" aria-hidden="true">
                {stateLabel(job.state)}
                {job.attempt > 1 ? ` · attempt ${job.attempt}` : ''}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
