/**
 * Runs once when the server starts. In production it refuses to start with a missing, default
 * or short `REVALIDATE_SECRET` (anyone could otherwise make the site regenerate pages at will),
 * and it starts Sentry on the server when `NEXT_PUBLIC_SENTRY_DSN` is set.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { startServer } = await import("./lib/server-start");
  await startServer();
}

export async function onRequestError(...args: unknown[]) {
  if (!process.env["NEXT_PUBLIC_SENTRY_DSN"]) return;
  const Sentry = await import("@sentry/nextjs");
  (Sentry.captureRequestError as (...a: unknown[]) => void)(...args);
}
