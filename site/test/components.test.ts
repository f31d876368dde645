// The components rendered to HTML with react-dom/server: labels, accessible
// names, states, links, and that text (log lines above all) is escaped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Agent, Job, RunSummary, Session } from '../lib/api.ts';
import type { Service } from '../lib/catalog.ts';
import { loadComponents } from './render.ts';

const c = loadComponents();
const h = c.createElement as (type: unknown, props?: Record<string, unknown> | null) => unknown;
const html = (el: unknown) => c.renderToStaticMarkup(el as Parameters<typeof c.renderToStaticMarkup>[0]);
const now = Date.parse('2026-06-01T12:00:00Z');

test('StateBadge: a label in words, not colour alone', () => {
  const out = html(h(c.StateBadge, { state: 'failed', softFailed: true }));
  assert.match(out, /class="badge state-failed"/);
  assert.match(out, /data-state="failed"/);
  assert.match(out, />Failed \(soft\)</);
  assert.match(out, /<span class="badge-dot" aria-hidden="true"><\/span>/);
  // An unknown state is shown, and cannot inject a class.
  const odd = html(h(c.StateBadge, { state: 'weird state"><b>' }));
  assert.match(odd, /class="badge state-unknown"/);
  assert.doesNotMatch(odd, /<b>/);
});

const job = (key: string, state: string, deps: string[] = [], extra: Partial<Job> = {}): Job => ({
  key,
  label: `:go: ${key}`,
  state,
  depends_on: deps,
  attempt: 1,
  log_seq: 0,
  ...extra,
});

test('Graph: a button per job named by label and state, an edge per dependency', () => {
  const jobs = [job('build', 'passed'), job('test', 'running', ['build'], { attempt: 2 }), job('deploy', 'waiting', ['test'])];
  const out = html(h(c.Graph, { jobs, selected: 'test', onSelect: () => {} }));
  assert.match(out, /role="group" aria-label="Step graph: 3 jobs"/);
  assert.equal(out.match(/data-testid="graph-node"/g)?.length, 3);
  assert.equal(out.match(/class="graph-edge /g)?.length, 2);
  // Emoji shortcodes are dropped from labels.
  assert.match(out, /role="button" tabindex="0" aria-pressed="true" aria-label="test: Running"/);
  assert.match(out, /aria-pressed="false" aria-label="build: Passed"/);
  assert.match(out, /data-key="deploy" data-state="waiting"/);
  assert.match(out, /Running · attempt 2/);
  // A focus ring of its own (shown on :focus-visible), apart from the selection.
  assert.equal(out.match(/class="graph-focus"/g)?.length, 3);
  assert.doesNotMatch(out, /:go:/);
});

test('Graph: a long label is cut at a word in the box, whole in the name and the tooltip', () => {
  const long = 'lint this pipeline (With cache) & <more>';
  const jobs = [job('lint', 'failed', [], { label: `:mag: ${long}` })];
  const out = html(h(c.Graph, { jobs, selected: null, onSelect: () => {} }));
  const esc = 'lint this pipeline \\(With cache\\) &amp; &lt;more&gt;';
  // The selectors the e2e tests use are unchanged.
  assert.match(out, /<g [^>]*data-testid="graph-node" data-key="lint" data-state="failed"/);
  // The accessible name and the <title> (a tooltip, and the node's description) carry all of it.
  assert.match(out, new RegExp(`role="button" tabindex="0" aria-pressed="false" aria-label="${esc}: Failed"`));
  assert.match(out, new RegExp(`<g [^>]*data-testid="graph-node"[^>]*><title>${esc} \\(lint\\) — Failed</title>`));
  // The box shows it cut at a word boundary, not mid-word.
  assert.match(out, /<text x="16" y="18" class="graph-label" aria-hidden="true">lint this pipeline…<\/text>/);
  assert.doesNotMatch(out, /\(W…/);
  assert.doesNotMatch(out, /<more>/);
});

test('LogLine: log text is escaped text, coloured by class', () => {
  const model = new c.LogModel();
  model.append('\x1b[31m<script>alert("x")</script>\x1b[0m & <b>not bold</b>\n');
  model.end();
  const out = html(h(c.LogLine, { line: model.lines[0], n: 7, query: 'alert', current: true }));
  assert.doesNotMatch(out, /<script>|<b>/);
  assert.match(out, /&lt;script&gt;/);
  assert.match(out, /&amp; &lt;b&gt;not bold&lt;\/b&gt;/);
  assert.match(out, /class="log-line log-line-current"/);
  assert.match(out, /<span class="log-n" aria-hidden="true">7<\/span>/);
  assert.match(out, /class="[^"]*log-match[^"]*">alert</); // the search hit
  assert.match(out, /fg-1|red/); // SGR 31 → a colour class
});

test('LogPanel: a labelled log region, waiting before output arrives', () => {
  const out = html(h(c.LogPanel, { runID: 'r_1', job: job('unit', 'queued') }));
  assert.match(out, /<section class="log-panel" aria-label="Log of unit"/);
  assert.match(out, /<span class="visually-hidden">Search the log<\/span>/);
  assert.match(out, /aria-label="Previous match"/);
  assert.match(out, /Waiting for the job to start…/);
});

const session = (over: Partial<Session>): Session => ({
  id: 'ses_1',
  kind: 'browser',
  created: now - 3_600_000,
  last_seen: now - 60_000,
  expires: now + 86_400_000,
  user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  ...over,
});

test('SessionTable: device, this browser, expiry, and an end button named for its session', () => {
  const sessions = [session({ current: true }), session({ id: 'ses_2', kind: 'cli', user_agent: 'airlock/0.4.0 (linux; amd64)', idle_expires: now - 1 })];
  const out = html(h(c.SessionTable, { sessions, now, onEnd: () => {}, ending: new Set(['ses_2']) }));
  assert.equal(out.match(/data-testid="session-row"/g)?.length, 2);
  assert.match(out, /Chrome on Linux/);
  assert.match(out, /data-testid="current-session">This browser</);
  assert.match(out, /aria-label="End session on Chrome on Linux \(this browser: signs you out\)"[^>]*>Sign out here</);
  assert.match(out, /class="kind kind-cli">CLI</);
  assert.match(out, />expired</); // the sooner of the idle and absolute limits
  assert.match(out, /disabled=""[^>]*>Ending…</);
});

const service: Service = {
  id: 'web',
  name: 'Web <shop>',
  description: 'Sells things & more.',
  owner: 'storefront',
  repository: 'github.com/acme/web',
  lifecycle: 'production',
  tier: 1,
  tags: ['go'],
  links: [],
  pipelines: [
    { name: 'ci', file: '.airlock/pipeline.yml', branch: 'main' },
    { name: 'deploy', file: 'deploy.yml', branch: null },
  ],
};

test('ServiceList: a card per service linking to its page', () => {
  const out = html(h(c.ServiceList, { services: [service, { ...service, id: 'api', name: 'API', lifecycle: 'deprecated', tier: null }] }));
  assert.match(out, /<ul class="service-grid" aria-label="Services">/);
  assert.equal(out.match(/data-testid="service-card"/g)?.length, 2);
  assert.match(out, /<a data-testid="service-link" href="\/services\/web\/">Web &lt;shop&gt;<\/a>/);
  assert.match(out, /class="lifecycle lifecycle-production">production</);
  assert.match(out, /class="lifecycle lifecycle-deprecated">deprecated</);
  assert.match(out, />tier 1</);
  assert.equal(out.match(/>tier /g)?.length, 1); // none for a service without a tier
  assert.match(out, /<span class="pipeline-chip" title="deploy.yml">deploy<\/span>/);
  assert.match(out, /Sells things &amp; more\./);
});

test('RunsTable: who triggered each run, branch and commit, and a link to it', () => {
  const runs: RunSummary[] = [
    { id: 'r/1', number: 12, state: 'running', filename: '.airlock/pipeline.yml', branch: 'main', commit: '0123456789abcdef', created_by: 'ada@example.com', message: 'first line\nsecond', created_ms: now - 90_000 },
    { id: 'r2', number: 11, state: 'passed', filename: 'x.yml', created_ms: now - 7_200_000, finished_ms: now - 7_100_000 },
  ];
  const out = html(h(c.RunsTable, { runs, now, caption: 'Runs' }));
  assert.match(out, /<caption class="visually-hidden">Runs<\/caption>/);
  assert.match(out, /<th scope="col">Triggered by<\/th>/);
  assert.match(out, /href="\/runs\/view\/\?id=r%2F1">#12<\/a>/);
  assert.match(out, /<span class="trigger">ada@example.com<\/span>/);
  assert.match(out, /<code class="commit" title="0123456789abcdef">01234567<\/code>/);
  assert.match(out, />first line</);
  // The message is one line, cut with "…" by CSS when narrow: the title has it whole.
  assert.match(out, /<span class="message" title="first line">first line<\/span>/);
  // "Created" never wraps (see the runs-table rules in globals.css).
  assert.match(out, /<td data-label="Created" class="when-cell">/);
  assert.doesNotMatch(out, /second/);
  assert.match(out, />1m 30s</); // running: so far
  assert.match(out, />1m 40s</); // finished
});

test('AgentCard: identity, pool, its jobs as links to their runs, heartbeat; disconnected', () => {
  const agent: Agent = {
    id: 'a1',
    name: 'aws-1',
    identity: 'arn:aws:iam::123456789012:role/airlock-agent',
    pool: 'linux',
    tags: { queue: 'default', os: 'linux' },
    slots: 2,
    busy: 1,
    version: '0.4.0',
    connected: true,
    connected_ms: now - 3_600_000,
    last_seen_ms: now - 5_000,
    jobs: [{ run_id: 'run_7', run_number: 7, key: 'unit', label: ':go: Unit tests', started_ms: now - 120_000 }],
  };
  const out = html(h(c.AgentCard, { agent, now }));
  assert.match(out, /data-testid="agent-identity">arn:aws:iam::123456789012:role\/airlock-agent</);
  assert.match(out, /aria-label="1 of 2 slots busy"/);
  assert.match(out, /<ul class="agent-jobs" aria-label="Jobs on aws-1">/);
  assert.match(out, /href="\/runs\/view\/\?id=run_7&amp;job=unit">#7 Unit tests<\/a>/);
  assert.match(out, /started 2 min ago/);
  assert.ok(out.indexOf('os=linux') < out.indexOf('queue=default'), 'tags sorted by key');
  assert.match(out, /data-testid="agent-heartbeat">just now</);
  assert.match(out, />Connected</);

  const gone = html(h(c.AgentCard, { agent: { ...agent, connected: false, disconnected_ms: now - 7_200_000, jobs: null }, now }));
  assert.match(gone, /class="agent-card agent-offline"/);
  assert.match(gone, /<dt>Disconnected<\/dt><dd><span[^>]*>2 h ago</);
  assert.doesNotMatch(gone, /agent-jobs/);
});

test('ErrorBox and Empty: an alert with a heading from the status', () => {
  const err = Object.assign(new Error('nope'), { status: 403 });
  const out = html(h(c.ErrorBox, { error: err, title: 'Custom' }));
  assert.match(out, /role="alert"/);
  assert.match(out, /Custom/);
  assert.match(html(h(c.Empty, { title: 'Nothing <here>' })), /Nothing &lt;here&gt;/);
});

test('LogLine: a masked secret is a labelled token, and search finds it', () => {
  const model = new c.LogModel();
  model.append('token=\x1b[33m[REDACTED:GITHUB_TOKEN]\x1b[0m ok\n');
  model.end();
  const out = html(h(c.LogLine, { line: model.lines[0], n: 1, query: '', current: false }));
  assert.match(out, /<span class="log-masked" role="img" aria-label="masked secret GITHUB_TOKEN" title="[^"]*" data-testid="log-masked" data-secret="GITHUB_TOKEN">/);
  assert.equal(out.match(/class="log-masked"/g)?.length, 1);
  // The search model holds the token, so searching for the name (or REDACTED) finds the line.
  assert.ok(model.lines[0].search.includes('github_token'));
  const found = html(h(c.LogLine, { line: model.lines[0], n: 1, query: 'github', current: true }));
  assert.match(found, /class="log-masked"[^>]*><span class="ansi-fg-3">\[REDACTED:<\/span><span class="ansi-fg-3 log-match">GITHUB<\/span>/);
  // A name cannot inject markup.
  const evil = new c.LogModel();
  evil.append('[REDACTED:"><b>x</b>]\n');
  evil.end();
  const e = html(h(c.LogLine, { line: evil.lines[0], n: 1, query: '', current: false }));
  assert.doesNotMatch(e, /<b>/);
  assert.match(e, /aria-label="masked secret &quot;&gt;&lt;b&gt;x&lt;\/b&gt;"/);
});
