/**
 * `POST /api/revalidate {secret, path}`: what the SabiScore service calls after each new price
 * (bentos/README.md, "ISR revalidation"). The secret is checked in constant time against
 * `REVALIDATE_SECRET` (401 otherwise), the path must be one of this site's pages (400
 * otherwise); then the page, and "/" with it, is regenerated on its next request.
 * `GET /api/revalidate`: a health check.
 */
import { revalidatePath } from "next/cache";
import { NextResponse } from "next/server";
import { runtimeEnv } from "@/lib/env";
import { DEV_SECRET, checkPath, environmentOf, secretMatches } from "@/lib/revalidate";

export const dynamic = "force-dynamic";
const MAX_BODY_BYTES = 4096;

function expectedSecret(): string | undefined {
  const secret = runtimeEnv("REVALIDATE_SECRET");
  if (secret) return secret;
  // the service's development default, so that a local stack needs no setting; production
  // refuses to start without a real one (instrumentation.ts)
  return environmentOf(process.env) === "production" ? undefined : DEV_SECRET;
}

export async function POST(request: Request) {
  const text = await request.text();
  if (text.length > MAX_BODY_BYTES) return NextResponse.json({ error: "body too large" }, { status: 413 });
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return NextResponse.json({ error: "the body must be JSON: {secret, path}" }, { status: 400 });
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    return NextResponse.json({ error: "the body must be a JSON object: {secret, path}" }, { status: 400 });
  }
  const { secret, path } = body as { secret?: unknown; path?: unknown };
  if (!secretMatches(secret, expectedSecret())) {
    return NextResponse.json({ error: "invalid secret" }, { status: 401 });
  }
  const checked = checkPath(path);
  if (!checked.ok) return NextResponse.json({ error: checked.error }, { status: 400 });
  for (const page of checked.paths) revalidatePath(page);
  return NextResponse.json({ revalidated: true, path, paths: checked.paths, timestamp: new Date().toISOString() });
}

export async function GET() {
  return NextResponse.json({ status: "ready", endpoint: "/api/revalidate" });
}
