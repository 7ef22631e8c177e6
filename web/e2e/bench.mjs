/**
 * The site's two latencies, on the stack benchmarks/web.py starts (run with node
 * --experimental-websocket on Node 20, for the reference WebSocket client):
 * - a pushed price: from sending `POST /odds` to the match page's ValueBetCard showing the new
 *   edge in Chromium (the DOM change, recorded in the page), over 50 pushes; the reference,
 *   measured on the same pushes, is a bare WebSocket client subscribed to the same match;
 * - the TTFB of a cached (ISR) match page over 200 requests; the reference, in the same run, is
 *   a static file of the same server (/_next/static) and the service's own GET /matches/{id}.
 * One JSON line each.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { launch } from "./browser.mjs";
import { edgeShownAt, now, pageState, postOdds, quantile, round, settings, until, watchEdges, withHomePrice } from "./lib.mjs";

const PUSHES = Number(process.env.BENCH_PUSHES || 50);
const WARMUP = 5; // pushes before the measured ones (the first of a process pays for lazy set-up)
const REQUESTS = Number(process.env.BENCH_REQUESTS || 200);
const cfg = settings();
const matchUrl = `${cfg.site}/match/${cfg.match.match_id}`;
const summary = (xs) => ({ p50_ms: round(quantile(xs, 0.5)), p99_ms: round(quantile(xs, 0.99)), max_ms: round(Math.max(...xs)), n: xs.length });

async function pushes() {
  const { context, close } = await launch();
  const page = await context.newPage();
  await page.goto(matchUrl);
  await until("live", async () => (await page.getByTestId("live-status").getAttribute("data-status")) === "live");
  await watchEdges(page);

  assert.ok(typeof WebSocket === "function", "run with node --experimental-websocket (Node 20)");
  const arrivals = new Map();
  const socket = new WebSocket(`${cfg.api.replace(/^http/, "ws")}/ws/edge/${cfg.match.match_id}`);
  socket.onmessage = (event) => {
    const at = now();
    const message = JSON.parse(String(event.data));
    const home = message.edge?.outcomes.find((o) => o.outcome === "home");
    if (home && !arrivals.has(String(home.edge_percentage))) arrivals.set(String(home.edge_percentage), at);
  };
  await new Promise((resolve, reject) => ((socket.onopen = resolve), (socket.onerror = reject)));

  const browser = [];
  const direct = [];
  for (let i = -WARMUP; i < PUSHES; i++) {
    const update = withHomePrice(cfg.match, "bet365", cfg.match.odds.bet365.home + 0.3 + 0.01 * (i + WARMUP));
    const sent = now();
    const answer = await postOdds(cfg, update);
    const edge = answer.edge.outcomes.find((o) => o.outcome === "home").edge_percentage;
    const shown = await edgeShownAt(page, edge, 5000);
    const arrived = await until("the direct client's message", () => arrivals.get(String(edge)) ?? null, 5000, 5);
    if (i < 0) continue;
    browser.push(shown - sent);
    direct.push(arrived - sent);
    await new Promise((r) => setTimeout(r, 30));
  }
  socket.close();
  await close();
  return {
    benchmark: "web_push_to_card",
    what: "POST /odds sent -> the match page's ValueBetCard shows the new edge (headless Chromium)",
    ...summary(browser),
    slowest: browser.map((ms, i) => ({ push: i, ms: round(ms), direct_ms: round(direct[i]) })).sort((a, b) => b.ms - a.ms).slice(0, 3),
    warmup_pushes: WARMUP,
    reference_ws_client: summary(direct),
    design_claim_ms: 28,
    aim_p99_ms: 100,
  };
}

function ttfb(url, agent) {
  return new Promise((resolve, reject) => {
    const started = now();
    const request = http.get(url, { agent }, (response) => {
      const at = now() - started;
      const cache = response.headers["x-nextjs-cache"] ?? null;
      response.resume();
      response.on("end", () => resolve({ ms: at, status: response.statusCode, cache }));
    });
    request.on("error", reject);
  });
}

async function series(url, n, agent) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await ttfb(url, agent));
  return out;
}

async function cachedPage() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  await until("a cached page", async () => (await ttfb(matchUrl, agent)).cache === "HIT", 10_000);
  const html = (await pageState(matchUrl)).html;
  const asset = /src="(\/_next\/static\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(asset, "a static script in the page");
  await series(matchUrl, 20, agent); // warm
  const page = await series(matchUrl, REQUESTS, agent);
  const stat = await series(`${cfg.site}${asset}`, REQUESTS, agent);
  const api = [];
  for (let i = 0; i < REQUESTS; i++) {
    const started = now();
    const response = await fetch(`${cfg.api}/matches/${cfg.match.match_id}`, { headers: cfg.token ? { Authorization: `Bearer ${cfg.token}` } : {} });
    api.push(now() - started);
    await response.arrayBuffer();
  }
  agent.destroy();
  assert.ok(page.every((r) => r.status === 200));
  return {
    benchmark: "web_cached_match_page_ttfb",
    what: "GET /match/<id> from the ISR cache: time to the response's first byte, keep-alive, one at a time",
    ...summary(page.map((r) => r.ms)),
    cache_hits: page.filter((r) => r.cache === "HIT").length,
    reference_static_file: summary(stat.map((r) => r.ms)),
    reference_service_match: { ...summary(api), note: "the service's GET /matches/{id} (whole answer): what rendering the page would wait for at least" },
    design_claim_ms: 45,
    aim_p99_ms: 20,
  };
}

console.log(JSON.stringify(await pushes()));
console.log(JSON.stringify(await cachedPage()));
