#!/usr/bin/env node
/**
 * A tour of SabiScore's pages in the MLflow UI and the Prefect UI, as a new user would take it:
 * full-page screenshots (1400x900 viewport) in headless Debian Chromium, driven by the
 * playwright-core of web/node_modules (Playwright's own browser download does not work here).
 *
 * It reads the servers' REST APIs to find what to open (the experiments, a training run, the
 * registered model and its champion, the deployments, the latest flow run), so it runs again on
 * any store. Nothing is changed on either server. See --help.
 */
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const HELP = `Usage: node scripts/ui_tour.mjs [--mlflow URL] [--prefect URL] [--out DIR] [options]

Screenshots of SabiScore's MLflow and Prefect pages, one PNG per page, into --out:

  MLflow (--mlflow, e.g. http://127.0.0.1:5000):
    mlflow-01-experiments.png        the experiments list
    mlflow-02a-training-clicked.png  the training experiment as a first click opens it (the
                                     view the sidebar's GenAI / Model training switch picks)
    mlflow-02-training-runs.png      the training experiment's runs table (this and the
                                     pages below with ?workflowType=machine_learning)
    mlflow-03-training-run.png       the latest training run: overview (params, metrics,
                                     datasets, tags)
    mlflow-04-backtests.png          the backtest experiment's runs table (if it exists)
    mlflow-05-model.png              the registered model
    mlflow-06-model-version.png      the champion's version page (else the latest version)
  Prefect (--prefect, e.g. http://127.0.0.1:4200, the UI's address, not .../api):
    prefect-01-deployments.png       the deployments list
    prefect-02-run-<name>.png        the Custom run form of each deployment in --run-forms
    prefect-03-flow-runs.png         the flow runs list
    prefect-04-run-artifacts.png     the latest flow run's Artifacts tab
    prefect-05-run-parameters.png    the latest flow run's Parameters tab

Give either URL or both; a page that cannot be found is reported and skipped (exit 1 at the end).

Options:
  --mlflow URL          MLflow tracking server / UI (mlflow server or mlflow ui)
  --prefect URL         Prefect server's UI
  --out DIR             output folder (default /tmp/ui-tour-shots), created if missing
  --experiment NAME     training experiment (default sabiscore-training)
  --backtests NAME      backtest experiment (default sabiscore-backtests)
  --model NAME          registered model (default sabiscore-ensemble)
  --run-forms LIST      deployments whose Custom run form is shot, comma-separated
                        (default pipeline-manual,ingest-manual)
  --flow-run ID         the flow run for the run pages (default: the latest one)
  --settle MS           extra wait after a page has rendered (default 1500)
  --chromium PATH       Chromium binary (default $CHROMIUM_PATH or /usr/bin/chromium)
  -h, --help            this text

Example (from the project root; the servers already running):
  .venv/bin/mlflow server --backend-store-uri sqlite:////tmp/ui-tour/mlflow.db \\
      --default-artifact-root /tmp/ui-tour/mlruns --host 127.0.0.1 --port 5055 &
  node scripts/ui_tour.mjs --mlflow http://127.0.0.1:5055 --prefect http://127.0.0.1:4200
`;

const { values: opts } = parseArgs({
  options: {
    mlflow: { type: "string" },
    prefect: { type: "string" },
    out: { type: "string", default: "/tmp/ui-tour-shots" },
    experiment: { type: "string", default: "sabiscore-training" },
    backtests: { type: "string", default: "sabiscore-backtests" },
    model: { type: "string", default: "sabiscore-ensemble" },
    "run-forms": { type: "string", default: "pipeline-manual,ingest-manual" },
    "flow-run": { type: "string" },
    settle: { type: "string", default: "1500" },
    chromium: { type: "string", default: process.env.CHROMIUM_PATH || "/usr/bin/chromium" },
    help: { type: "boolean", short: "h" },
  },
});

if (opts.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
if (!opts.mlflow && !opts.prefect) {
  process.stderr.write("error: give --mlflow URL, --prefect URL or both\n\n" + HELP);
  process.exit(2);
}

// The site's own launcher of Debian's Chromium (playwright-core from web/node_modules).
const { launch } = await import(join(ROOT, "web", "e2e", "browser.mjs"));

const settle = Number(opts.settle);
const VIEWPORT = { width: 1400, height: 900 };
const MAX_HEIGHT = 6000;
// The MLflow pages after the first click are opened in the model-training view.
const ML = "workflowType=machine_learning";
const out = resolve(opts.out);
mkdirSync(out, { recursive: true });
const trim = (url) => url.replace(/\/+$/, "");
const failures = [];

async function api(base, path, body) {
  const response = await fetch(base + path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

/** Grow the viewport until no inner scroll container hides content (the MLflow and Prefect
 * UIs scroll a panel, not the document, so a plain full-page shot stops at 900 px). */
async function unfold(page) {
  const hidden = await page.evaluate(() => {
    let most = 0;
    for (const el of document.querySelectorAll("*")) {
      const style = getComputedStyle(el);
      if (!["auto", "scroll"].includes(style.overflowY) || el.clientHeight < 200) continue;
      most = Math.max(most, el.scrollHeight - el.clientHeight);
    }
    return most;
  });
  if (hidden > 0) {
    await page.setViewportSize({ width: VIEWPORT.width, height: Math.min(VIEWPORT.height + hidden, MAX_HEIGHT) });
    await page.waitForTimeout(500);
  }
}

/** MLflow 3's assistant panel opens by itself on a first visit and takes a third of the width. */
async function closeAssistant(page) {
  const close = page.locator('[data-component-id="mlflow.assistant.chat_panel.close"]');
  if (await close.count()) await close.first().click().catch(() => {});
}

/** Open url, wait for it to render (a selector or a text, and the network to settle), then
 * shoot the whole page. `act` runs on the rendered page before the shot (a click). */
async function shoot(page, name, url, { selector, text, act } = {}) {
  const file = join(out, name);
  try {
    if (url) await page.goto(url, { waitUntil: "domcontentloaded", timeout: 60_000 });
    await page.waitForLoadState("networkidle", { timeout: 8_000 }).catch(() => {});
    if (selector) await page.locator(selector).first().waitFor({ timeout: 30_000 });
    if (text) await page.getByText(text, { exact: false }).first().waitFor({ timeout: 30_000 });
    if (act) await act(page);
    await closeAssistant(page);
    await page.waitForLoadState("networkidle", { timeout: 5_000 }).catch(() => {});
    await page.waitForTimeout(settle);
    await unfold(page);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`${name}  ${page.url()}`);
  } catch (error) {
    failures.push(`${name}: ${error.message.split("\n")[0]}`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    console.log(`${name}  ${page.url()}  (FAILED: ${error.message.split("\n")[0]})`);
  } finally {
    await page.setViewportSize(VIEWPORT);
  }
}

async function mlflowTour(page, base) {
  const rest = (path, body) => api(base, "/api/2.0/mlflow" + path, body);
  await shoot(page, "mlflow-01-experiments.png", `${base}/#/experiments`, { text: opts.experiment });

  const experiment = async (name) => {
    try {
      return (await rest(`/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`)).experiment;
    } catch {
      return null;
    }
  };
  const training = await experiment(opts.experiment);
  if (!training) {
    failures.push(`no experiment ${opts.experiment}`);
  } else {
    const id = training.experiment_id;
    // As a new user: click the experiment in the list. MLflow 3.17 picks the view from the
    // sidebar's GenAI / Model training switch (remembered in the browser, GenAI at first), not
    // from the experiment's mlflow.experimentKind tag.
    await shoot(page, "mlflow-02a-training-clicked.png", `${base}/#/experiments`, {
      text: opts.experiment,
      act: async (p) => {
        await p.getByRole("link", { name: opts.experiment, exact: true }).first().click();
        await p.waitForURL(new RegExp(`/experiments/${id}`), { timeout: 30_000 });
      },
    });
    await shoot(page, "mlflow-02-training-runs.png", `${base}/#/experiments/${id}/runs?${ML}`, { selector: "[role=grid], table, .ag-root" });
    const latest = async (filter) => (await rest("/runs/search", {
      experiment_ids: [id], max_results: 1, order_by: ["attributes.start_time DESC"], filter,
    })).runs || [];
    const runs = (await latest("tags.flow = 'train'")).concat(await latest(""));
    if (runs.length) {
      const runId = runs[0].info.run_id;
      await shoot(page, "mlflow-03-training-run.png", `${base}/#/experiments/${id}/runs/${runId}?${ML}`, { text: "Parameters" });
    } else failures.push(`no run in ${opts.experiment}`);
  }

  const backtests = await experiment(opts.backtests);
  if (backtests) {
    await shoot(page, "mlflow-04-backtests.png", `${base}/#/experiments/${backtests.experiment_id}/runs?${ML}`, { selector: "[role=grid], table, .ag-root" });
  } else console.log(`mlflow-04-backtests.png  skipped: no experiment ${opts.backtests}`);

  const model = encodeURIComponent(opts.model);
  await shoot(page, "mlflow-05-model.png", `${base}/#/models/${model}?${ML}`, { text: "Version" });
  let version = null;
  try {
    const { registered_model: registered } = await rest(`/registered-models/get?name=${model}`);
    const champion = (registered.aliases || []).find((alias) => alias.alias === "champion");
    version = champion ? champion.version : (registered.latest_versions || []).map((v) => Number(v.version)).sort((a, b) => b - a)[0];
  } catch (error) {
    failures.push(`registered model ${opts.model}: ${error.message}`);
  }
  if (version) {
    await shoot(page, "mlflow-06-model-version.png", `${base}/#/models/${model}/versions/${version}?${ML}`, { text: "Registered" });
  }
}

async function prefectTour(page, base) {
  const rest = (path, body) => api(base, "/api" + path, body);
  await shoot(page, "prefect-01-deployments.png", `${base}/deployments`, { text: "pipeline" });

  const deployments = await rest("/deployments/filter", { limit: 200 });
  for (const name of opts["run-forms"].split(",").map((s) => s.trim()).filter(Boolean)) {
    const deployment = deployments.find((d) => d.name === name);
    if (!deployment) {
      failures.push(`no deployment ${name} (have: ${deployments.map((d) => d.name).join(", ")})`);
      continue;
    }
    await shoot(page, `prefect-02-run-${name}.png`, `${base}/deployments/deployment/${deployment.id}/run`, { text: "Parameters" });
  }

  await shoot(page, "prefect-03-flow-runs.png", `${base}/runs`, { text: "Flow" });

  let runId = opts["flow-run"];
  if (!runId) {
    const runs = await rest("/flow_runs/filter", { limit: 1, sort: "START_TIME_DESC", flow_runs: { state: { type: { any_: ["COMPLETED", "FAILED", "CRASHED"] } } } });
    runId = runs[0]?.id;
  }
  if (!runId) {
    failures.push("no finished flow run on the Prefect server");
    return;
  }
  const tab = (name) => async (p) => {
    await p.getByText(name, { exact: true }).first().click();
    await p.waitForTimeout(500);
  };
  await shoot(page, "prefect-04-run-artifacts.png", `${base}/runs/flow-run/${runId}`, { text: "Artifacts", act: tab("Artifacts") });
  await shoot(page, "prefect-05-run-parameters.png", `${base}/runs/flow-run/${runId}`, { text: "Parameters", act: tab("Parameters") });
}

const { context, close } = await launch({ viewport: VIEWPORT, executablePath: opts.chromium });
try {
  const page = context.pages()[0] || (await context.newPage());
  if (opts.mlflow) await mlflowTour(page, trim(opts.mlflow)).catch((error) => failures.push(`mlflow: ${error.message}`));
  if (opts.prefect) await prefectTour(page, trim(opts.prefect)).catch((error) => failures.push(`prefect: ${error.message}`));
} finally {
  await close();
}
console.log(`screenshots in ${out}`);
if (failures.length) {
  console.error(`${failures.length} problem(s):\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
