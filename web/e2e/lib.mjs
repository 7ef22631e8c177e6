/** What the end-to-end test and the benchmark share: the stack's addresses, the service's
 * calls, timing and assertions. Everything comes from the environment the caller sets
 * (tests/web/test_site.py, benchmarks/web.py). */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";

export function settings() {
  const need = (name) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set`);
    return value;
  };
  const artifacts = process.env.ARTIFACTS || new URL("./artifacts/", import.meta.url).pathname;
  mkdirSync(artifacts, { recursive: true });
  return {
    site: need("SITE_URL").replace(/\/+$/, ""),
    api: need("API_URL").replace(/\/+$/, ""),
    token: process.env.API_TOKEN || "",
    secret: need("REVALIDATE_SECRET"),
    control: process.env.CONTROL_URL || "",
    match: JSON.parse(need("E2E_MATCH")),
    artifacts,
  };
}

export const now = () => performance.timeOrigin + performance.now();

export async function service(cfg, path, init = {}) {
  const headers = { "Content-Type": "application/json", ...(cfg.token ? { Authorization: `Bearer ${cfg.token}` } : {}), ...(init.headers || {}) };
  const response = await fetch(`${cfg.api}${path}`, { ...init, headers });
  const body = await response.json().catch(() => null);
  return { status: response.status, body };
}

/** POST /odds: the service recomputes, pushes and has the site revalidate. */
export async function postOdds(cfg, update) {
  const answer = await service(cfg, "/odds", { method: "POST", body: JSON.stringify(update) });
  assert.equal(answer.status, 200, `POST /odds: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

export const valueBets = (edge) => (edge?.outcomes ?? []).filter((o) => o.reason === "value_bet" && o.kelly_stake_percentage > 0);

/** The match's odds with the home price of `book` moved to `price`. */
export function withHomePrice(match, book, price) {
  const odds = structuredClone(match.odds);
  odds[book] = { ...odds[book], home: Math.round(price * 100) / 100 };
  return { ...match, odds };
}

/** The HTML of a page (no browser): its status, ISR cache header and generation time. */
export async function pageState(url) {
  const response = await fetch(url, { redirect: "manual" });
  const html = await response.text();
  const generated = /data-testid="generated-at" data-value="([^"]+)"/.exec(html)?.[1] ?? null;
  return { status: response.status, cache: response.headers.get("x-nextjs-cache"), html, generated };
}

export async function until(what, check, timeoutMs = 10_000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index];
}

export const round = (x, digits = 2) => (x === null ? null : Math.round(x * 10 ** digits) / 10 ** digits);

/** Records in the page, as React commits them, each change of the cards' edges (epoch ms). */
export async function watchEdges(page) {
  await page.evaluate(() => {
    const seen = [];
    window.__edgeChanges = seen;
    const record = () => {
      const at = performance.timeOrigin + performance.now();
      for (const el of document.querySelectorAll('[data-testid="value-bet-card"] [data-testid="edge"]')) {
        const value = el.getAttribute("data-value");
        if (!seen.some((s) => s.value === value)) seen.push({ value, at });
      }
    };
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-value"] });
    record();
  });
}

/** When the page first showed an edge of `value` (a number as the service sent it). */
export async function edgeShownAt(page, value, timeoutMs = 5000) {
  const handle = await page.waitForFunction((v) => window.__edgeChanges.find((s) => s.value === v)?.at ?? false, String(value), { timeout: timeoutMs, polling: 20 });
  return handle.jsonValue();
}
