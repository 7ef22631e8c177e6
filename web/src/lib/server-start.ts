import { runtimeEnv } from "./env";
import { environmentOf, secretProblem } from "./revalidate";

/** The checks and set-up of a starting server (instrumentation.ts). */
export async function startServer(): Promise<void> {
  if (process.env.NEXT_PHASE === "phase-production-build") return; // `next build`, not a server
  const problem = secretProblem(process.env);
  if (problem) {
    console.error(
      `sabiscore web: refusing to start in production: ${problem}. Set REVALIDATE_SECRET to the service's (32+ characters, ` +
        `e.g. python -c "import secrets; print(secrets.token_urlsafe(32))"), or SABISCORE_ENV=development for a local run.`,
    );
    process.exit(1);
  }
  const dsn = runtimeEnv("NEXT_PUBLIC_SENTRY_DSN");
  if (dsn) {
    const Sentry = await import("@sentry/nextjs");
    Sentry.init({
      dsn,
      environment: environmentOf(process.env),
      // errors only unless asked: no performance traces by default
      tracesSampleRate: Number(runtimeEnv("SENTRY_TRACES_SAMPLE_RATE") ?? 0),
      beforeSend(event) {
        const secret = runtimeEnv("REVALIDATE_SECRET");
        if (!secret) return event;
        return JSON.parse(JSON.stringify(event).split(secret).join("[Filtered]"));
      },
    });
  }
}
