/**
 * The site's reads of the SabiScore service, on the server only (`SABISCORE_API_URL`). Each
 * answer is a value or a reason a person can read: the service is down, it has no model yet,
 * the match is unknown. The fetches carry no cache option: a page is rendered (at build, on
 * its first request, on revalidation) from the service's answer of that moment, and the
 * rendered page is what ISR keeps.
 */
import type { EdgeUpdate, ModelsReport, UpcomingFixtures } from "./types";
import { runtimeEnv } from "./env";

export type Failure =
  | { kind: "down"; detail: string }
  | { kind: "no_model"; detail: string }
  | { kind: "not_found"; detail: string }
  | { kind: "error"; detail: string };

export type Answer<T> = { ok: true; value: T } | { ok: false; failure: Failure };

export const DEFAULT_API_URL = "http://127.0.0.1:8000";
const TIMEOUT_MS = 5000;

export function apiUrl(): string {
  return (runtimeEnv("SABISCORE_API_URL") || DEFAULT_API_URL).replace(/\/+$/, "");
}

/** Bearer token for a service that protects its reads (`auth.protect_reads`). */
function headers(): Record<string, string> {
  const token = runtimeEnv("SABISCORE_API_TOKEN");
  return token ? { Authorization: `Bearer ${token}`, Accept: "application/json" } : { Accept: "application/json" };
}

export async function getJson<T>(path: string): Promise<Answer<T>> {
  let response: Response;
  try {
    response = await fetch(`${apiUrl()}${path}`, { headers: headers(), signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    return { ok: false, failure: { kind: "down", detail: `${apiUrl()}: ${describe(error)}` } };
  }
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // a proxy's HTML error page, say: the status tells
  }
  if (response.ok) return { ok: true, value: body as T };
  const detail = errorText(body) ?? `HTTP ${response.status}`;
  if (response.status === 404) return { ok: false, failure: { kind: "not_found", detail } };
  if (response.status === 503) return { ok: false, failure: { kind: "no_model", detail } };
  if (response.status >= 500) return { ok: false, failure: { kind: "down", detail } };
  return { ok: false, failure: { kind: "error", detail } };
}

function errorText(body: unknown): string | null {
  if (body && typeof body === "object" && "error" in body && typeof body.error === "string") return body.error;
  return null;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: { code?: string } }).cause;
    return cause?.code ?? error.message;
  }
  return String(error);
}

/** Every upcoming fixture the service knows (from now on), by kick-off. */
export const getFixtures = () => getJson<UpcomingFixtures>("/fixtures");
export const getMatch = (matchId: string) => getJson<EdgeUpdate>(`/matches/${encodeURIComponent(matchId)}`);
export const getModels = (limit = 10) => getJson<ModelsReport>(`/models?limit=${limit}`);
