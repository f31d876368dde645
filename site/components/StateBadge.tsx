// A run's or job's state as a coloured label (text, not colour alone).
const labels: Record<string, string> = {
  waiting: 'Waiting',
  queued: 'Queued',
  assigned: 'Assigned',
  running: 'Running',
  passed: 'Passed',
  failed: 'Failed',
  cancelled: 'Cancelled',
  canceling: 'Cancelling',
  skipped: 'Skipped',
};

export function stateLabel(state: string): string {
  return labels[state] ?? (state ? state[0].toUpperCase() + state.slice(1) : 'Unknown');
}

export function stateClass(state: string): string {
  return `state-${/^[a-z_]+$/.test(state) ? state : 'unknown'}`;
}

export function StateBadge({ state, softFailed }: { state: string; softFailed?: boolean }) {
  return (
    <span className={`badge ${stateClass(state)}`} data-state={state}>
      <span className="badge-dot" aria-hidden="true" />
      {stateLabel(state)}
      {softFailed ? ' (soft)' : ''}
    </span>
  );
}
