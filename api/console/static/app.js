// The replicator console: sign-in, the account's replicators, and one
// replicator's live status. Hash routes:
//
//   #/replicators          the list (default)
//   #/replicators/<arn>    one replicator (the ARN percent-encoded)
//
// Everything is read from the control-plane API with SigV4-signed calls
// (api.js); the access key is kept in sessionStorage, i.e. for this tab only.

import { Api, ApiError } from "./api.js";
import { LineChart } from "./charts.js";

const STORAGE_KEY = "replicator-console.credentials";
const POLL_MS = 2000;
const WINDOW_MS = 5 * 60 * 1000;
const DEFAULT_REGION = document.querySelector('meta[name="replicator-region"]')?.content || "us-east-1";

const app = document.getElementById("app");
const session = document.getElementById("session");

let api = null; // Api of the signed-in key, or null
let stopView = () => {}; // stops the current view's polling
const histories = new Map(); // replicator ARN → samples of its status, kept across visits

// --- DOM helpers ----------------------------------------------------------------

/** h("div", {class: "x", onclick: f}, child, "text", ...) */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

const nf0 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const nf1 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
const dateFmt = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "medium" });
const timeFmt = new Intl.DateTimeFormat("en-GB", { timeStyle: "medium" });

const fmtInt = (n) => (n === undefined || n === null ? "—" : nf0.format(n));
const fmtRate = (n) => (n === undefined || n === null ? "—" : n < 10 && n !== 0 ? nf1.format(n) : nf0.format(n));
function fmtShort(n) {
  const a = Math.abs(n);
  if (a >= 1e9) return nf1.format(n / 1e9) + "G";
  if (a >= 1e6) return nf1.format(n / 1e6) + "M";
  if (a >= 1e4) return nf1.format(n / 1e3) + "k";
  return fmtRate(n);
}
function fmtBytes(n) {
  if (n === undefined || n === null) return "—";
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? nf0.format(n) : nf1.format(n)} ${units[i]}`;
}
function fmtMillis(ms) {
  if (ms === undefined || ms === null) return "—";
  if (ms < 1) return "< 1 ms";
  if (ms < 1000) return `${nf0.format(ms)} ms`;
  return `${nf1.format(ms / 1000)} s`;
}
/** A checkpoint: the next source offset to copy, or Kafka's -2 (earliest) / -1 (latest) before the first. */
function fmtOffset(n) {
  if (n === -2) return "earliest";
  if (n === -1) return "latest";
  return fmtInt(n);
}
function fmtDate(s) {
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s || "—" : dateFmt.format(d);
}
function fmtAgo(s, now = Date.now()) {
  const d = Date.parse(s);
  if (Number.isNaN(d)) return "";
  const sec = Math.max(0, Math.round((now - d) / 1000));
  if (sec < 60) return `${sec} s ago`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ago`;
  if (sec < 86400) return `${Math.floor(sec / 3600)} h ago`;
  return `${Math.floor(sec / 86400)} d ago`;
}

function stateBadge(state) {
  const kind = { RUNNING: "ok", CREATING: "info", UPDATING: "info", FAILED: "error", DELETING: "warn" }[state] || "neutral";
  return h("span", { class: `badge badge-${kind}`, "data-testid": "state", "data-state": state || "" }, state || "UNKNOWN");
}

function arnHash(arn) {
  return `#/replicators/${encodeURIComponent(arn)}`;
}

/** Runs fn now and then every ms (measured from each start) until stopped. */
function poll(fn, ms) {
  let stopped = false;
  let timer = 0;
  const tick = async () => {
    if (stopped) return;
    const start = Date.now();
    try {
      await fn();
    } catch (e) {
      console.error(e);
    }
    if (!stopped) timer = setTimeout(tick, Math.max(200, ms - (Date.now() - start)));
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

// --- Session --------------------------------------------------------------------

function loadCredentials() {
  try {
    const c = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    return c && c.accessKeyId && c.secretAccessKey && c.region ? c : null;
  } catch {
    return null;
  }
}

function signIn(credentials) {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(credentials));
  api = new Api(credentials);
}

/** Forgets the key and shows the sign-in form (with message, if any). */
function signOut(message = "") {
  sessionStorage.removeItem(STORAGE_KEY);
  api = null;
  histories.clear();
  route(message);
}

/** Handles an error of a view's API call: 401 signs out, anything else is shown in banner. */
function handleError(err, banner) {
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
    signOut(`${err.status === 401 ? "Signed out" : "Access denied"}: ${err.message}`);
    return;
  }
  banner.replaceChildren(
    h("strong", {}, err instanceof ApiError && err.status ? `${err.type} (${err.status}): ` : "Error: "),
    err.message || String(err),
    h("span", { class: "muted" }, " — retrying"),
  );
  banner.hidden = false;
}

function renderSession() {
  if (!api) {
    session.replaceChildren();
    return;
  }
  const c = api.credentials;
  session.replaceChildren(
    h("span", { class: "session-key", title: "access key ID" }, c.accessKeyId),
    h("span", { class: "session-region" }, c.region),
    h("button", { type: "button", class: "button button-ghost", "data-testid": "sign-out", onclick: () => signOut() }, "Sign out"),
  );
}

// --- Router ---------------------------------------------------------------------

function route(message = "") {
  stopView();
  stopView = () => {};
  if (!api) {
    const c = loadCredentials();
    if (c) api = new Api(c);
  }
  renderSession();
  if (!api) {
    showSignIn(message);
    return;
  }
  const hash = location.hash || "#/replicators";
  const m = /^#\/replicators\/(.+)$/.exec(hash);
  if (m) {
    let arn;
    try {
      arn = decodeURIComponent(m[1]);
    } catch {
      arn = m[1];
    }
    stopView = showReplicator(arn);
  } else {
    if (hash !== "#/replicators") history.replaceState(null, "", "#/replicators");
    stopView = showList();
  }
}

// --- Sign-in --------------------------------------------------------------------

function showSignIn(message) {
  document.title = "Sign in · Replicator console";
  const error = h("div", { class: "alert alert-error", role: "alert", "data-testid": "sign-in-error", hidden: !message }, message);
  const akid = h("input", { id: "access-key-id", name: "accessKeyId", autocomplete: "username", spellcheck: "false", required: true, placeholder: "AKIA…" });
  const secret = h("input", { id: "secret-access-key", name: "secretAccessKey", type: "password", autocomplete: "current-password", required: true });
  const region = h("input", { id: "region", name: "region", value: DEFAULT_REGION, spellcheck: "false", required: true });
  const submit = h("button", { type: "submit", class: "button button-primary", "data-testid": "sign-in" }, "Sign in");
  const form = h("form", { class: "card signin", novalidate: true },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Use an access key of the control plane (", h("code", {}, "replicator dev"), " prints one)."),
    error,
    h("label", { for: "access-key-id" }, "Access key ID"), akid,
    h("label", { for: "secret-access-key" }, "Secret access key"), secret,
    h("label", { for: "region" }, "Region"), region,
    submit,
    h("p", { class: "fineprint" }, "The key is kept in this browser tab only (sessionStorage) and never sent: every request is signed in the page with SigV4."),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const creds = { accessKeyId: akid.value.trim(), secretAccessKey: secret.value.trim(), region: region.value.trim() || DEFAULT_REGION };
    if (!creds.accessKeyId || !creds.secretAccessKey) {
      error.textContent = "Enter an access key ID and its secret.";
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    submit.textContent = "Signing in…";
    try {
      // One signed call proves the key before it is kept.
      await new Api(creds).call("GET", "/replication/v1/replicators", [["maxResults", "1"]]);
      signIn(creds);
      if (!location.hash.startsWith("#/replicators")) history.replaceState(null, "", "#/replicators");
      route();
    } catch (e) {
      error.textContent = e instanceof ApiError && e.status ? `${e.message} (${e.type})` : e.message || String(e);
      error.hidden = false;
      submit.disabled = false;
      submit.textContent = "Sign in";
    }
  });
  app.replaceChildren(h("div", { class: "signin-wrap" }, form));
  akid.focus();
}

// --- Replicator list ------------------------------------------------------------

function showList() {
  document.title = "Replicators · Replicator console";
  const banner = h("div", { class: "alert alert-error", role: "alert", hidden: true, "data-testid": "error" });
  const updated = h("span", { class: "live", "data-testid": "updated" }, "Loading…");
  const body = h("div", { class: "card", "data-testid": "replicators" }, h("p", { class: "empty muted" }, "Loading…"));
  app.replaceChildren(
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Replicators"), h("p", { class: "muted" }, `Account of ${api.credentials.accessKeyId} in ${api.credentials.region}`)),
      updated),
    banner,
    body,
  );
  const stateInfos = new Map(); // ARN → stateInfo of FAILED replicators (ListReplicators does not return it)

  return poll(async () => {
    let reps;
    try {
      reps = await api.listReplicators();
      // ListReplicators has no stateInfo: describe the failed ones (a few).
      const failed = reps.filter((r) => r.replicatorState === "FAILED").slice(0, 25);
      await Promise.all(failed.map(async (r) => {
        try {
          stateInfos.set(r.replicatorArn, (await api.describeReplicator(r.replicatorArn)).stateInfo);
        } catch (e) {
          if (e instanceof ApiError && e.status === 401) throw e;
        }
      }));
    } catch (e) {
      handleError(e, banner);
      return;
    }
    banner.hidden = true;
    updated.textContent = `Live · updated ${timeFmt.format(new Date())}`;
    if (reps.length === 0) {
      body.replaceChildren(h("div", { class: "empty" },
        h("p", {}, h("strong", {}, "No replicators yet.")),
        h("p", { class: "muted" }, "Create one with ", h("code", {}, "aws kafka create-replicator"), " or any AWS SDK pointed at this endpoint; it appears here within two seconds.")));
      return;
    }
    const rows = reps.map((r) => {
      const info = r.replicatorState === "FAILED" ? stateInfos.get(r.replicatorArn) : null;
      const pairs = (r.replicationInfoSummaryList || []).map((p) =>
        h("div", { class: "flow" }, h("span", { class: "alias" }, p.sourceKafkaClusterAlias), h("span", { class: "arrow" }, "→"), h("span", { class: "alias" }, p.targetKafkaClusterAlias)));
      return h("tr", { "data-testid": "replicator-row", "data-name": r.replicatorName, class: "clickable", onclick: (ev) => {
        if (!ev.target.closest("a")) location.hash = arnHash(r.replicatorArn);
      } },
      h("td", {}, h("a", { href: arnHash(r.replicatorArn), class: "name" }, r.replicatorName), h("div", { class: "arn" }, r.replicatorArn)),
      h("td", {}, stateBadge(r.replicatorState)),
      h("td", { class: "state-info", "data-testid": "state-info" }, info ? [h("code", {}, info.code || ""), " ", info.message || ""] : h("span", { class: "muted" }, "—")),
      h("td", { class: "nowrap" }, fmtDate(r.creationTime), h("div", { class: "muted small" }, fmtAgo(r.creationTime))),
      h("td", {}, pairs));
    });
    body.replaceChildren(h("table", { class: "table" },
      h("thead", {}, h("tr", {}, ["Name", "State", "State info", "Created", "Source → target"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows)));
  }, POLL_MS);
}

// --- One replicator -------------------------------------------------------------

function showReplicator(arn) {
  document.title = "Replicator · Replicator console";
  const banner = h("div", { class: "alert alert-error", role: "alert", hidden: true, "data-testid": "error" });
  const title = h("h1", { "data-testid": "replicator-name" }, arn.split("/")[1] || "Replicator");
  const badge = h("span", {});
  const updated = h("span", { class: "live", "data-testid": "updated" }, "Loading…");
  const meta = h("div", { class: "meta muted" });
  const stateAlert = h("div", { class: "alert alert-error", hidden: true, "data-testid": "replicator-state-info" });

  const stat = (id, label) => {
    const value = h("div", { class: "stat-value", "data-testid": `stat-${id}` }, "—");
    const sub = h("div", { class: "stat-sub muted" }, "");
    return { el: h("div", { class: "stat" }, h("div", { class: "stat-label" }, label), value, sub), value, sub };
  };
  const stats = {
    lag: stat("lag", "Total lag"),
    rps: stat("records-per-sec", "Throughput"),
    copied: stat("records-copied", "Records copied"),
    latency: stat("latency", "Max latency"),
    jobs: stat("jobs-leased", "Jobs leased"),
    workers: stat("workers", "Workers"),
  };

  const chartCard = (id, label, color, format) => {
    const canvas = h("canvas", { class: "chart", "data-testid": `chart-${id}`, role: "img", "aria-label": label });
    const now = h("span", { class: "chart-now", "data-testid": `chart-${id}-now` }, "—");
    const peak = h("span", { class: "muted small" }, "");
    const card = h("section", { class: "card chart-card" },
      h("div", { class: "card-head" }, h("h2", {}, label), h("div", { class: "chart-legend" }, now, peak)),
      canvas,
      h("div", { class: "muted small chart-foot" }, "Last 5 minutes, sampled every 2 s"));
    return { card, chart: new LineChart(canvas, { color, format, windowMs: WINDOW_MS, gapMs: 3 * POLL_MS + 1000, minStep: 1 }), now, peak, format };
  };
  const lagChart = chartCard("lag", "Total lag (records)", "#d97706", fmtShort);
  const rpsChart = chartCard("records-per-sec", "Throughput (records/s)", "#2563eb", fmtShort);

  const partitions = h("div", { class: "table-wrap" }, h("p", { class: "empty muted" }, "Loading…"));
  const otherJobs = h("div", {});
  const events = h("ol", { class: "events", "data-testid": "events" });

  app.replaceChildren(
    h("nav", { class: "crumbs" }, h("a", { href: "#/replicators" }, "Replicators"), h("span", {}, "/"), h("span", {}, arn.split("/")[1] || arn)),
    h("div", { class: "page-head" }, h("div", {}, h("div", { class: "title-row" }, title, badge), meta, h("div", { class: "arn" }, arn)), updated),
    banner,
    stateAlert,
    h("section", { class: "stats" }, Object.values(stats).map((s) => s.el)),
    h("div", { class: "charts" }, lagChart.card, rpsChart.card),
    h("div", { class: "columns" },
      h("section", { class: "card grow" },
        h("div", { class: "card-head" }, h("h2", {}, "Topics and partitions")),
        partitions, otherJobs),
      h("section", { class: "card side" },
        h("div", { class: "card-head" }, h("h2", {}, "Recent state changes")),
        events)),
  );

  if (!histories.has(arn)) histories.set(arn, []);
  const samples = histories.get(arn);
  let described = false;

  const stop = poll(async () => {
    let st;
    try {
      st = await api.replicatorStatus(arn);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        banner.replaceChildren(h("strong", {}, "Not found: "), "this replicator does not exist in this account and region (deleted?). ", h("a", { href: "#/replicators" }, "Back to the list"));
        banner.hidden = false;
        return;
      }
      handleError(e, banner);
      return;
    }
    banner.hidden = true;
    const now = Date.now();
    const s = st.summary || {};
    samples.push({ t: now, lag: s.messageLag || 0, rps: s.recordsPerSec || 0, records: s.recordsCopied || 0 });
    while (samples.length && samples[0].t < now - WINDOW_MS - 10_000) samples.shift();

    document.title = `${st.replicatorName} · Replicator console`;
    title.textContent = st.replicatorName;
    badge.replaceChildren(stateBadge(st.replicatorState));
    updated.textContent = `Live · updated ${timeFmt.format(new Date(now))}`;
    if (st.stateInfo && (st.stateInfo.code || st.stateInfo.message)) {
      stateAlert.replaceChildren(h("strong", {}, st.stateInfo.code || "Error"), ": ", st.stateInfo.message || "");
      stateAlert.hidden = false;
    } else {
      stateAlert.hidden = true;
    }
    if (!described) {
      described = true;
      api.describeReplicator(arn).then((d) => {
        const pairs = (d.replicationInfoList || []).map((p) => `${p.sourceKafkaClusterAlias} → ${p.targetKafkaClusterAlias}`);
        meta.replaceChildren(
          h("span", {}, pairs.join(", ") || "—"),
          h("span", { class: "dot" }, "·"),
          h("span", {}, `created ${fmtDate(d.creationTime)}`));
      }, () => { described = false; });
    }

    stats.lag.value.textContent = fmtInt(s.messageLag);
    stats.lag.sub.textContent = "records behind the source";
    stats.rps.value.textContent = `${fmtRate(s.recordsPerSec)} rec/s`;
    stats.rps.sub.textContent = `${fmtBytes(s.bytesPerSec)}/s`;
    stats.copied.value.textContent = fmtInt(s.recordsCopied);
    stats.copied.sub.textContent = `across ${fmtInt(s.partitions)} partition${s.partitions === 1 ? "" : "s"}`;
    stats.latency.value.textContent = s.recordsCopied > 0 || s.maxLatencyMillis > 0 ? fmtMillis(s.maxLatencyMillis) : "—";
    stats.latency.sub.textContent = "slowest partition";
    stats.jobs.value.textContent = `${fmtInt(s.leasedJobs)} / ${fmtInt(s.jobs)}`;
    stats.jobs.sub.textContent = s.leasedJobs === s.jobs ? "all jobs have a worker" : `${fmtInt((s.jobs || 0) - (s.leasedJobs || 0))} waiting for a worker`;
    stats.workers.value.textContent = fmtInt(s.workers);
    stats.workers.sub.textContent = "holding leases";

    for (const [c, key] of [[lagChart, "lag"], [rpsChart, "rps"]]) {
      const pts = samples.map((p) => ({ t: p.t, v: p[key] }));
      c.chart.setData(pts, now);
      const visible = pts.filter((p) => p.t >= now - WINDOW_MS);
      c.now.textContent = `${fmtInt(pts.at(-1)?.v)} now`;
      c.peak.textContent = `peak ${fmtInt(Math.max(0, ...visible.map((p) => p.v)))}`;
    }

    renderJobs(st.jobs || [], partitions, otherJobs, now);
    renderEvents(st.events || [], events, now);
  }, POLL_MS);

  return () => {
    stop();
    lagChart.chart.destroy();
    rpsChart.chart.destroy();
  };
}

function renderJobs(jobs, partitions, otherJobs, now) {
  const parts = jobs.filter((j) => j.kind === "partition")
    .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : (a.partition ?? 0) - (b.partition ?? 0)));
  const others = jobs.filter((j) => j.kind !== "partition");
  if (parts.length === 0) {
    partitions.replaceChildren(h("p", { class: "empty muted" }, "No partitions yet: the scheduler creates a job per source partition once it has read the topics."));
  } else {
    let lastTopic = null;
    const rows = [];
    for (const j of parts) {
      const p = j.progress;
      const first = j.topic !== lastTopic;
      lastTopic = j.topic;
      rows.push(h("tr", { "data-testid": "partition-row", "data-topic": j.topic, "data-partition": String(j.partition), class: first ? "group-start" : "" },
        h("td", {}, first ? h("span", { class: "topic" }, j.topic) : "", first && p?.targetTopic ? h("div", { class: "muted small target-topic" }, `→ ${p.targetTopic}`) : ""),
        h("td", { class: "num" }, String(j.partition)),
        h("td", {}, j.owner ? h("span", { class: "owner" }, j.owner) : h("span", { class: "muted" }, "unassigned"),
          j.error ? h("div", { class: "job-error", title: j.error.message }, `${j.error.code}: ${j.error.message}`) : ""),
        h("td", { class: "num", "data-col": "checkpoint" }, fmtOffset(j.checkpoint)),
        h("td", { class: "num", "data-col": "lag" }, fmtInt(p?.lag)),
        h("td", { class: "num", "data-col": "latency" }, p ? fmtMillis(p.latencyMillis) : "—"),
        h("td", { class: "num", "data-col": "records-per-sec" }, p ? fmtRate(p.recordsPerSec) : "—"),
        h("td", { class: "num", "data-col": "records" }, fmtInt(p?.records)),
      ));
    }
    partitions.replaceChildren(h("table", { class: "table compact", "data-testid": "partitions-table" },
      h("thead", {}, h("tr", {},
        h("th", {}, "Topic"), h("th", { class: "num" }, "Partition"), h("th", {}, "Worker"), h("th", { class: "num" }, "Checkpoint"),
        h("th", { class: "num" }, "Lag"), h("th", { class: "num" }, "Latency"), h("th", { class: "num" }, "Records/s"), h("th", { class: "num" }, "Copied"))),
      h("tbody", {}, rows)));
  }
  otherJobs.replaceChildren(...others.map((j) => h("div", { class: "other-job muted small" },
    h("span", { class: "kind" }, `${j.kind[0].toUpperCase()}${j.kind.slice(1)} job`), " · ",
    j.owner ? `worker ${j.owner}` : "unassigned",
    j.heartbeatAt ? ` · heartbeat ${fmtAgo(j.heartbeatAt, now)}` : "",
    j.error ? h("span", { class: "job-error" }, ` · ${j.error.code}: ${j.error.message}`) : "")));
}

function renderEvents(evs, list, now) {
  if (evs.length === 0) {
    list.replaceChildren(h("li", { class: "muted" }, "No state changes recorded yet."));
    return;
  }
  list.replaceChildren(...evs.map((e) => h("li", { "data-testid": "event" },
    h("div", { class: "event-head" }, stateBadge(e.state), h("span", { class: "muted small", title: fmtDate(e.at) }, fmtAgo(e.at, now))),
    h("div", { class: "small" }, fmtDate(e.at)),
    e.code || e.message ? h("div", { class: "event-info" }, e.code ? h("code", {}, e.code) : "", e.code && e.message ? " " : "", e.message || "") : "")));
}

// --- Start ----------------------------------------------------------------------

window.addEventListener("hashchange", () => route());
route();
