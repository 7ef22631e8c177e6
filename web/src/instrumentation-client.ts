/**
 * Sentry in the browser when `NEXT_PUBLIC_SENTRY_DSN` was set at build time (Next.js inlines
 * it into the browser's bundle): errors only unless `NEXT_PUBLIC_SENTRY_TRACES_SAMPLE_RATE`
 * asks for traces. Without a DSN the SDK is never loaded.
 */
const dsn = process.env.NEXT_PUBLIC_SENTRY_DSN;
if (dsn) {
  void import("@sentry/nextjs").then((Sentry) =>
    Sentry.init({
      dsn,
      tracesSampleRate: Number(process.env.NEXT_PUBLIC_SENTRY_TRACES_SAMPLE_RATE ?? 0),
    }),
  );
}
