/**
 * End-to-end: the site (`next start`) against a real `sabiscore serve` on a pipeline store, in
 * Debian's headless Chromium. Every "must show" of issue 16, asserted; screenshots of the pages
 * saved under $ARTIFACTS. Run by tests/web/test_site.py, which builds the stack and passes its
 * addresses in the environment (web/e2e/lib.mjs `settings`); CONTROL_URL stops and restarts the
 * service.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { launch } from "./browser.mjs";
import { edgeShownAt, pageState, postOdds, service, settings, until, valueBets, watchEdges, withHomePrice } from "./lib.mjs";

const cfg = settings();
const results = [];
const step = async (name, body) => {
  const started = Date.now();
  try {
    const detail = await body();
    results.push({ step: name, ok: true, ms: Date.now() - started, ...(detail ? { detail } : {}) });
    console.log(`ok   ${name}${detail ? ` ${JSON.stringify(detail)}` : ""}`);
  } catch (error) {
    console.log(`FAIL ${name}: ${error.stack || error}`);
    throw error;
  }
};
const shot = (page, name) => page.screenshot({ path: join(cfg.artifacts, `${name}.png`), fullPage: true });
const num = async (locator) => Number(await locator.getAttribute("data-value"));
const control = async (what) => {
  assert.ok(cfg.control, "CONTROL_URL is needed to stop and restart the service");
  const response = await fetch(`${cfg.control}/${what}`, { method: "POST" });
  assert.equal(response.status, 200, `${what} the service: ${await response.text()}`);
};

const { context, close } = await launch();
await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: cfg.site });
// nothing leaves the machine: a bookmaker's site opened by "Place bet" is answered here
await context.route(/^https?:\/\/(?!127\.0\.0\.1|localhost)/, (route) => route.fulfill({ status: 200, contentType: "text/html", body: "<title>bookmaker</title>" }));
const page = await context.newPage();
const errors = [];
page.on("pageerror", (error) => errors.push(String(error)));
const matchUrl = `${cfg.site}/match/${cfg.match.match_id}`;

try {
  await step("the revalidation route answers its health check", async () => {
    const response = await fetch(`${cfg.site}/api/revalidate`);
    assert.deepEqual(await response.json(), { status: "ready", endpoint: "/api/revalidate" });
  });

  await step("/ lists the service's fixtures by league and kick-off, each with its best value bet and tier", async () => {
    const listed = await service(cfg, "/fixtures");
    assert.equal(listed.status, 200);
    await page.goto(`${cfg.site}/`);
    const rows = page.getByTestId("fixture");
    const ids = await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-match-id")));
    const expected = [...listed.body.fixtures].sort((a, b) => a.league.localeCompare(b.league) || a.kickoff.localeCompare(b.kickoff));
    assert.deepEqual(ids, expected.map((f) => f.match_id));
    for (const f of expected) {
      const row = page.locator(`[data-testid=fixture][data-match-id="${f.match_id}"]`);
      const best = valueBets(f.edge).sort((a, b) => b.edge_percentage - a.edge_percentage)[0];
      assert.equal(await row.getByTestId("best-bet").getAttribute("data-edge"), best ? String(best.edge_percentage) : "");
      if (best) assert.equal(await row.getByTestId("quality-badge").textContent(), best.quality);
    }
    const leagues = [...new Set(expected.map((f) => f.league))];
    const options = await page.getByTestId("league-filter").locator("option").evaluateAll((els) => els.map((e) => e.value));
    assert.deepEqual(options, ["all", ...leagues.sort()]);
    await page.getByTestId("league-filter").selectOption(leagues[0]);
    assert.deepEqual(await page.getByTestId("league").evaluateAll((els) => els.map((e) => e.dataset.league)), [leagues[0]]);
    await page.getByTestId("league-filter").selectOption("all");
    await shot(page, "home");
    return { fixtures: ids.length };
  });

  let generated;
  await step("/match/<id> shows the same probabilities and edges as the service's own answer", async () => {
    await page.getByRole("link", { name: `${cfg.match.home_team} v ${cfg.match.away_team}` }).click();
    await page.waitForURL(matchUrl);
    await until("the live socket", async () => (await page.getByTestId("live-status").getAttribute("data-status")) === "live");
    const served = (await service(cfg, `/matches/${cfg.match.match_id}`)).body;
    const p = served.prediction;
    assert.equal(await num(page.getByTestId("prob-home")), p.home_win_probability);
    assert.equal(await num(page.getByTestId("prob-draw")), p.draw_probability);
    assert.equal(await num(page.getByTestId("prob-away")), p.away_win_probability);
    assert.equal(await num(page.getByTestId("confidence")), p.confidence_score);
    assert.equal(await num(page.getByTestId("brier")), p.brier_score);
    assert.equal(await page.getByTestId("calibration").getAttribute("data-value"), p.calibration_status);
    assert.equal(await page.getByTestId("model-version").textContent(), p.model_version);
    assert.equal(await page.getByTestId("teams").textContent(), `${p.home_team}v${p.away_team}`);
    const bets = valueBets(served.edge);
    assert.ok(bets.length > 0, "the e2e's match has a value bet");
    const cards = page.getByTestId("value-bet-card");
    assert.equal(await cards.count(), bets.length);
    for (const bet of bets) {
      const card = page.locator(`[data-testid=value-bet-card][data-market=${bet.outcome}]`);
      assert.equal(await num(card.getByTestId("edge")), bet.edge_percentage);
      assert.equal(await num(card.getByTestId("stake")), bet.kelly_stake_percentage);
      assert.equal(await num(card.getByTestId("best-odds")), bet.best_odds);
      assert.equal(await card.getByTestId("quality-badge").textContent(), bet.quality);
      assert.equal(Number(await card.getByTestId("probabilities").getAttribute("data-fair")), bet.fair_probability);
      assert.equal(Number(await card.getByTestId("probabilities").getAttribute("data-implied")), bet.implied_probability);
      assert.equal(await num(card.getByTestId("clv")), bet.clv_expected);
    }
    for (const other of served.edge.outcomes.filter((o) => !bets.includes(o))) {
      assert.equal(Number(await page.getByTestId(`other-${other.outcome}`).getAttribute("data-edge")), other.edge_percentage);
    }
    generated = (await pageState(matchUrl)).generated;
    assert.ok(generated);
    return { bets: bets.length, generated };
  });

  await step("the Kelly stake as an amount of the bankroll typed, kept in the browser; Copy and Place bet", async () => {
    const card = page.getByTestId("value-bet-card").first();
    const kelly = await num(card.getByTestId("stake"));
    await page.getByTestId("bankroll").fill("1000");
    assert.equal(await num(card.getByTestId("stake-amount")), Math.round(kelly * 1000) / 100);
    await page.reload();
    // the bankroll is read back from localStorage once the page has hydrated (slower on a busy machine)
    await until("the bankroll kept in the browser", async () => (await page.getByTestId("bankroll").inputValue()) === "1000");
    await card.getByTestId("copy").click();
    await until("Copied", async () => (await card.getByTestId("copy").textContent()) === "Copied ✓");
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.match(copied, new RegExp(`^${cfg.match.home_team} v ${cfg.match.away_team} · `));
    assert.ok(copied.includes(`of 1,000.00`) && copied.includes(cfg.match.match_id), copied);
    const [tab] = await Promise.all([context.waitForEvent("page"), card.getByTestId("place-bet").click()]);
    await tab.waitForLoadState();
    assert.match(tab.url(), /^https:\/\/www\.bet365\.com\//);
    await tab.close();
    await shot(page, "match");
    return { copied };
  });

  await step("a cached match page is served from the ISR cache, its generation time unchanged", async () => {
    const [a, b] = [await pageState(matchUrl), await pageState(matchUrl)];
    assert.equal(a.cache, "HIT");
    assert.equal(a.generated, generated);
    assert.equal(b.generated, generated);
  });

  let pushed;
  await step("POST /odds: the open page's ValueBetCard changes within 1 s, without a reload", async () => {
    await watchEdges(page);
    const before = await page.getByTestId("updated").getAttribute("data-value");
    const sent = performance.timeOrigin + performance.now();
    pushed = await postOdds(cfg, withHomePrice(cfg.match, "bet365", cfg.match.odds.bet365.home + 0.15));
    const home = pushed.edge.outcomes.find((o) => o.outcome === "home");
    assert.equal(home.reason, "value_bet");
    const shownAt = await edgeShownAt(page, home.edge_percentage, 1000);
    const latency = shownAt - sent;
    assert.ok(latency < 1000, `shown ${latency} ms after the POST`);
    assert.notEqual(await page.getByTestId("updated").getAttribute("data-value"), before);
    assert.equal(await page.getByTestId("updated").getAttribute("data-value"), pushed.updated_at);
    assert.match(await page.getByTestId("updated").textContent(), /^updated \d\d:\d\d:\d\d UTC$/);
    return { latency_ms: Math.round(latency), edge: home.edge_percentage };
  });

  let regenerated;
  await step("a fresh load shows the new edge from a page the service's revalidation regenerated", async () => {
    const home = pushed.edge.outcomes.find((o) => o.outcome === "home");
    const state = await until("a regenerated match page", async () => {
      const s = await pageState(matchUrl);
      return s.generated !== generated && s.html.includes(`data-value="${home.edge_percentage}"`) ? s : null;
    });
    assert.ok(Date.parse(state.generated) > Date.parse(generated), `${state.generated} after ${generated}`);
    regenerated = state.generated;
    // and in the browser: the server's HTML (before any push) carries the new edge
    const response = await page.goto(matchUrl);
    const html = await response.text();
    assert.ok(html.includes(`data-value="${home.edge_percentage}"`));
    assert.equal(await page.getByTestId("generated-at").getAttribute("data-value"), regenerated);
    const home_ = await pageState(`${cfg.site}/`);
    assert.ok(home_.html.includes(`data-edge="${home.edge_percentage}"`), "/ was regenerated with the match's new best bet");
    return { before: generated, after: regenerated };
  });

  await step("/api/revalidate refuses a wrong secret (401) and a path outside the site (400), changing nothing", async () => {
    const post = (body) => fetch(`${cfg.site}/api/revalidate`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const wrong = await post({ secret: `${cfg.secret}x`, path: `/match/${cfg.match.match_id}` });
    assert.equal(wrong.status, 401);
    const traversal = await post({ secret: cfg.secret, path: "/../x" });
    assert.equal(traversal.status, 400);
    for (const path of ["/match/x?y=1", "/models/../match/x", "/api/revalidate"]) assert.equal((await post({ secret: cfg.secret, path })).status, 400, path);
    await new Promise((r) => setTimeout(r, 300));
    const [a, b] = [await pageState(matchUrl), await pageState(matchUrl)];
    assert.equal(a.generated, regenerated);
    assert.equal(b.generated, regenerated);
    const right = await post({ secret: cfg.secret, path: "/" });
    const body = await right.json();
    assert.equal(right.status, 200);
    assert.equal(body.revalidated, true);
    assert.equal(body.path, "/");
    return { wrong: wrong.status, traversal: traversal.status };
  });

  await step("a match with no prices, and an unknown match id (404)", async () => {
    const bare = { ...cfg.match, match_id: `${cfg.match.match_id}-noprices`, odds: {} };
    const answer = await postOdds(cfg, bare);
    assert.equal(answer.edge, null);
    await page.goto(`${cfg.site}/match/${bare.match_id}`);
    await page.getByTestId("no-prices").waitFor();
    assert.equal(await page.getByTestId("value-bet-card").count(), 0);
    assert.equal(await num(page.getByTestId("prob-home")), answer.prediction.home_win_probability);
    const unknown = await page.goto(`${cfg.site}/match/no-such-match-2099`);
    assert.equal(unknown.status(), 404);
    await page.getByTestId("match-not-found").waitFor();
    const odd = await page.goto(`${cfg.site}/match/..%2F..%2Fetc`);
    assert.equal(odd.status(), 404);
  });

  await step("/models shows the champion and recent versions, scores beside the market's, and its calibration plot", async () => {
    const report = (await service(cfg, "/models?limit=10")).body;
    await page.goto(`${cfg.site}/models`);
    assert.equal(await page.getByTestId("champion").getAttribute("data-version"), report.champion);
    const rows = await page.getByTestId("version").evaluateAll((els) => els.map((e) => e.dataset.version));
    assert.deepEqual(rows, report.versions.map((v) => v.version));
    const champion = report.versions.find((v) => v.version === report.champion);
    assert.equal(await num(page.locator(`[data-testid=version][data-version="${report.champion}"] [data-testid=log-loss]`)), champion.holdout.log_loss);
    if (report.calibration) {
      for (const cls of ["H", "D", "A"]) await page.getByTestId(`calibration-${cls}`).locator("canvas").waitFor();
    }
    await page.waitForTimeout(300);
    await shot(page, "models");
    return { champion: report.champion, versions: rows.length, calibration: Boolean(report.calibration) };
  });

  await step("the service stopped: the page keeps its last state, marked 'live updates paused'", async () => {
    await page.goto(matchUrl);
    await until("live", async () => (await page.getByTestId("live-status").getAttribute("data-status")) === "live");
    const edge = await page.getByTestId("value-bet-card").first().getByTestId("edge").getAttribute("data-value");
    await control("stop");
    await until("paused", async () => (await page.getByTestId("live-status").getAttribute("data-status")) === "paused", 10_000);
    assert.match(await page.getByTestId("paused").textContent(), /^Live updates paused/);
    assert.equal(await page.getByTestId("value-bet-card").first().getByTestId("edge").getAttribute("data-value"), edge);
    await shot(page, "match-paused");
    // a fresh load is the last generated page, and says the same
    const again = await page.goto(matchUrl);
    assert.equal(again.status(), 200);
    assert.equal(await page.getByTestId("generated-at").getAttribute("data-value"), (await pageState(matchUrl)).generated);
    await until("paused after a reload", async () => (await page.getByTestId("live-status").getAttribute("data-status")) === "paused", 10_000);
    assert.equal(await page.getByTestId("value-bet-card").first().getByTestId("edge").getAttribute("data-value"), edge);
  });

  await step("the service restarted: live updates resume", async () => {
    await control("start");
    await until("live again", async () => (await page.getByTestId("live-status").getAttribute("data-status")) === "live", 20_000);
    await watchEdges(page);
    const answer = await postOdds(cfg, withHomePrice(cfg.match, "bet365", cfg.match.odds.bet365.home + 0.25));
    const home = answer.edge.outcomes.find((o) => o.outcome === "home");
    await edgeShownAt(page, home.edge_percentage, 2000);
    return { edge: home.edge_percentage };
  });

  assert.deepEqual(errors, [], "no script error in the pages");
} finally {
  await close();
  console.log(JSON.stringify({ e2e: results }));
}
