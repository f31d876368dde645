// Airlock edge: the Worker entry point and the Durable Object shim.
//
// Every decision is made in Go (edge/main.go → packages scheduler and
// sessions). This file only does what Go compiled to Wasm cannot do itself:
// define the Durable Object classes, boot one Go instance per object, read
// request bodies, build Response and WebSocketPair objects, and forward
// events into Go.
//
// Routing (the Worker does no work of its own beyond the plain-JS /v1/ping,
// the floor the benchmark compares against):
//   - the agents' routes go straight to the Scheduler object: agents prove
//     who they are with workload identity and never carry a session;
//   - every other API and /auth route goes to the Sessions object, which
//     answers sign-in and session routes itself and forwards the rest to the
//     Scheduler with the checked principal attached;
//   - everything else is the dashboard's static assets (wrangler.toml).
// (A long-lived Go instance in the stateless Worker breaks under
// concurrency; see RATIONALE.md.)
import "../build/edge/wasm_exec.js";
import edgeWasm from "../build/edge/airlock.wasm";
// Configuration as code, from git. A deployment may override each with a
// variable (the local dev stack does, to trust its local STS, OIDC issuer
// and development identity provider).
import bundledPools from "../.airlock/pools.yml";
import bundledSSO from "../.airlock/sso.yml";
// The security headers every API answer carries (Go sets them on its own
// answers from the same file).
import securityHeaders from "./internal/secheaders/headers.json";

const OBJECT_NAME = "main";
// The header that carries the signed-in person from Sessions to Scheduler.
// Only the Sessions object may set it: a request from outside that carries
// it is refused.
const PRINCIPAL = "airlock-principal";
const AGENT_PATHS = new Set(["/v1/agents/challenge", "/v1/agents/connect", "/v1/healthz"]);

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/v1/ping") {
      return json(200, '{"ok":true}\n');
    }
    if (request.headers.has(PRINCIPAL)) {
      return json(400, `{"error":"the ${PRINCIPAL} header is internal; do not send it"}\n`);
    }
    const ns = AGENT_PATHS.has(url.pathname) ? env.SCHEDULER : env.SESSIONS;
    return ns.get(ns.idFromName(OBJECT_NAME)).fetch(request);
  },
};

// json is an answer the Worker builds itself, with the security headers.
function json(status, body) {
  return new Response(body, { status, headers: { ...securityHeaders, "content-type": "application/json" } });
}

let hostCounter = 0;

// GoObject is a Durable Object whose every event is handled by one
// long-lived Go instance playing role ("scheduler" or "sessions").
class GoObject {
  constructor(ctx, env, role) {
    this.ctx = ctx;
    this.env = env;
    this.role = role;
    this.host = null;
    ctx.blockConcurrencyWhile(() => this.boot());
  }

  // boot starts a fresh Go instance and waits until it registered its handlers.
  async boot() {
    const name = `__airlock_host_${++hostCounter}`;
    const ctx = this.ctx;
    const env = this.env;
    const host = {
      ctx,
      env,
      pools: env.AIRLOCK_POOLS || bundledPools,
      poolsName: env.AIRLOCK_POOLS ? "AIRLOCK_POOLS" : ".airlock/pools.yml",
      sso: env.AIRLOCK_SSO || bundledSSO,
      ssoName: env.AIRLOCK_SSO ? "AIRLOCK_SSO" : ".airlock/sso.yml",
      fetchCapped,
      // tx runs fn in a storage transaction; a non-undefined return from fn
      // rolls it back and is returned.
      tx(fn) {
        const rollback = new Error("rollback");
        let result;
        try {
          ctx.storage.transactionSync(() => {
            result = fn();
            if (result !== undefined && result !== null) throw rollback;
          });
        } catch (e) {
          if (e !== rollback) throw e;
        }
        return result === null ? undefined : result;
      },
    };
    const ready = new Promise((resolve, reject) => {
      host.ready = resolve;
      host.failed = (msg) => reject(new Error(`airlock edge failed to start: ${msg}`));
    });
    globalThis[name] = host;
    const go = new Go();
    // A larger GC target: the heap is small and a collection stalls every event.
    go.env = { AIRLOCK_HOST: name, AIRLOCK_ROLE: this.role, GOGC: "400" };
    const instance = await WebAssembly.instantiate(edgeWasm, go.importObject);
    const exited = go.run(instance);
    exited.then(() => { if (this.go === go) this.host = null; });
    await ready;
    this.go = go;
    this.host = host;
  }

  // live returns the Go host, booting a new instance if the last one exited.
  async live() {
    if (!this.host || this.go.exited) {
      await this.ctx.blockConcurrencyWhile(() => this.boot());
    }
    return this.host;
  }

  async fetch(request) {
    const host = await this.live();
    const body = await readCapped(request, host.maxBody);
    const headers = {};
    for (const [k, v] of request.headers) headers[k] = v;
    const out = await host.fetch({ method: request.method, url: request.url, headers, body });
    if (out.upgrade) {
      const pair = new WebSocketPair();
      this.ctx.acceptWebSocket(pair[1], [out.upgrade]);
      return new Response(null, { status: 101, webSocket: pair[0] });
    }
    if (out.forward) {
      // Sessions checked the session: the request goes on to the Scheduler
      // with who it acts for, and without the credentials themselves.
      headers[PRINCIPAL] = out.forward;
      delete headers["cookie"];
      delete headers["authorization"];
      const stub = this.env.SCHEDULER.get(this.env.SCHEDULER.idFromName(OBJECT_NAME));
      return stub.fetch(request.url, { method: request.method, headers, body });
    }
    // 204 and 304 answers must not have a body, not even an empty one.
    const payload = out.status === 204 || out.status === 304 ? null : out.body;
    return new Response(payload, { status: out.status, headers: out.headers });
  }

  async webSocketMessage(ws, message) {
    const host = await this.live();
    const data = typeof message === "string" ? message : new Uint8Array(message);
    await host.message(connOf(this.ctx, ws), data);
  }

  async webSocketClose(ws, code, reason) {
    const host = await this.live();
    host.close(connOf(this.ctx, ws));
    try { ws.close(code === 1005 || code === 1006 || code === 1015 ? 1000 : code, reason); } catch { /* already closed */ }
  }

  async webSocketError(ws) {
    const host = await this.live();
    host.close(connOf(this.ctx, ws));
  }

  async alarm() {
    const host = await this.live();
    host.alarm();
  }
}

export class Scheduler extends GoObject {
  constructor(ctx, env) { super(ctx, env, "scheduler"); }
}

export class Sessions extends GoObject {
  constructor(ctx, env) { super(ctx, env, "sessions"); }
}

function connOf(ctx, ws) {
  const tags = ctx.getTags(ws);
  return tags.length > 0 ? tags[0] : "";
}

// fetchCapped sends an outbound request for Go (identity verification):
// redirects are returned, never followed, and at most limit+1 bytes of the
// body are read, so Go can refuse an oversized answer without buffering it.
async function fetchCapped(d, limit) {
  const resp = await fetch(d.url, { method: d.method, headers: d.headers, body: d.body, redirect: "manual" });
  const headers = {};
  for (const [k, v] of resp.headers) headers[k] = v;
  const body = resp.body ? await readStreamCapped(resp.body, limit) : new Uint8Array(0);
  return { status: resp.status, headers, body };
}

// readCapped reads at most limit+1 bytes of the body: Go answers 413 when it
// gets more than limit, without the Worker buffering an unbounded upload.
async function readCapped(request, limit) {
  if (!request.body) return undefined;
  return readStreamCapped(request.body, limit);
}

async function readStreamCapped(stream, limit) {
  const reader = stream.getReader();
  const chunks = [];
  let total = 0;
  while (total <= limit) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
  }
  if (total > limit) await reader.cancel().catch(() => {});
  const out = new Uint8Array(Math.min(total, limit + 1));
  let off = 0;
  for (const c of chunks) {
    const n = Math.min(c.byteLength, out.length - off);
    out.set(c.subarray(0, n), off);
    off += n;
    if (off >= out.length) break;
  }
  return out;
}
