/**
 * Environment read when a page is rendered, not when the site is built. Next.js inlines
 * `process.env.NEXT_PUBLIC_*` written literally into every bundle at build time; a lookup by
 * a computed name is left to run time, so one build serves any service address.
 */
export function runtimeEnv(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

/**
 * The WebSocket base the browser connects to: `NEXT_PUBLIC_SABISCORE_WS_URL` read on the
 * server at render time (a page passes it to its client component as a prop), else
 * `SABISCORE_API_URL` with http(s) turned into ws(s).
 */
export function wsBaseUrl(): string {
  const explicit = runtimeEnv("NEXT_PUBLIC_SABISCORE_WS_URL");
  if (explicit) return explicit.replace(/\/+$/, "");
  const api = (runtimeEnv("SABISCORE_API_URL") || "http://127.0.0.1:8000").replace(/\/+$/, "");
  return api.replace(/^http(s?):\/\//, "ws$1://");
}
