/**
 * The rules of `POST /api/revalidate`, apart from Next.js so that they are tested alone: the
 * secret compared in constant time, the path one of this site's pages, and which paths a
 * revalidation regenerates.
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** The service's development default (bentos/README.md): refused in production. */
export const DEV_SECRET = "dev-secret-token";
export const MIN_SECRET_LENGTH = 32;
/** Letters, digits, '-' and '_'; 1-255 characters: the service's match ids (MATCH_ID_PATTERN). */
export const MATCH_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/;

/** Equal in constant time: both sides hashed first, so neither their lengths nor a prefix leak. */
export function secretMatches(sent: unknown, expected: string | undefined): boolean {
  if (typeof sent !== "string" || !expected) return false;
  const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();
  return timingSafeEqual(digest(sent), digest(expected));
}

export type PathCheck = { ok: true; paths: string[] } | { ok: false; error: string };

/**
 * A page of this site, exactly: "/" or "/match/<id>" with a safe id. No "..", no query or
 * fragment, no encoded characters, no other prefix. A match path regenerates the match page
 * and "/" (whose list shows the match's best bet).
 */
export function checkPath(path: unknown): PathCheck {
  if (typeof path !== "string" || path.length === 0) return { ok: false, error: "path must be a non-empty string" };
  if (path.length > 300) return { ok: false, error: "path is too long" };
  if (path === "/") return { ok: true, paths: ["/"] };
  const match = /^\/match\/([^/]+)$/.exec(path);
  if (!match || !MATCH_ID.test(match[1] ?? "")) {
    return { ok: false, error: `path must be "/" or "/match/<id>" (letters, digits, '-', '_'), got ${JSON.stringify(path.slice(0, 80))}` };
  }
  return { ok: true, paths: [path, "/"] };
}

export type Environment = "development" | "staging" | "production";

/**
 * The site's environment, named as the service's (`SABISCORE_ENV`, else `APP_ENV`), else
 * production under `next start` (NODE_ENV=production) and development under `next dev`.
 */
export function environmentOf(env: Record<string, string | undefined>): Environment {
  const named = (env.SABISCORE_ENV || env.APP_ENV || "").trim().toLowerCase();
  if (named === "development" || named === "staging" || named === "production") return named;
  if (named) throw new Error(`SABISCORE_ENV/APP_ENV must be development, staging or production, got ${JSON.stringify(named)}`);
  return env.NODE_ENV === "production" ? "production" : "development";
}

/** Why the site must not start, or null: in production a missing, default or short secret. */
export function secretProblem(env: Record<string, string | undefined>): string | null {
  if (environmentOf(env) !== "production") return null;
  const secret = env.REVALIDATE_SECRET?.trim();
  if (!secret) return "REVALIDATE_SECRET is not set";
  if (secret === DEV_SECRET) return "REVALIDATE_SECRET is the development default";
  if (secret.length < MIN_SECRET_LENGTH) return `REVALIDATE_SECRET is shorter than ${MIN_SECRET_LENGTH} characters`;
  return null;
}
