/**
 * Debian's Chromium driven by playwright-core (Playwright's own browser download does not work
 * here): headless, no network of its own, a fresh profile per run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

export async function launch({ viewport = { width: 1280, height: 900 }, executablePath = CHROMIUM } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "sabiscore-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport,
    deviceScaleFactor: 1,
    timezoneId: "UTC",
    locale: "en-GB",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}
