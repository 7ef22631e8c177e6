import { beforeEach, describe, expect, it, vi } from "vitest";
import { DEV_SECRET, checkPath, environmentOf, secretMatches, secretProblem } from "@/lib/revalidate";

const revalidated = vi.hoisted(() => [] as string[]);
vi.mock("next/cache", () => ({ revalidatePath: (path: string) => revalidated.push(path) }));

const SECRET = "s".repeat(40);

describe("the secret", () => {
  it("matches only itself", () => {
    expect(secretMatches(SECRET, SECRET)).toBe(true);
    expect(secretMatches(`${SECRET}x`, SECRET)).toBe(false);
    expect(secretMatches(SECRET.slice(1), SECRET)).toBe(false);
    expect(secretMatches("", SECRET)).toBe(false);
    expect(secretMatches(undefined, SECRET)).toBe(false);
    expect(secretMatches(42, SECRET)).toBe(false);
    expect(secretMatches(SECRET, undefined)).toBe(false);
  });

  it("must be set, not the development default and 32+ characters in production", () => {
    expect(secretProblem({ NODE_ENV: "production" })).toBe("REVALIDATE_SECRET is not set");
    expect(secretProblem({ NODE_ENV: "production", REVALIDATE_SECRET: DEV_SECRET })).toBe("REVALIDATE_SECRET is the development default");
    expect(secretProblem({ NODE_ENV: "production", REVALIDATE_SECRET: "short" })).toMatch(/shorter than 32/);
    expect(secretProblem({ NODE_ENV: "production", REVALIDATE_SECRET: SECRET })).toBeNull();
    expect(secretProblem({ NODE_ENV: "production", SABISCORE_ENV: "development" })).toBeNull();
    expect(secretProblem({ NODE_ENV: "development" })).toBeNull();
    expect(secretProblem({ NODE_ENV: "development", APP_ENV: " Production " })).toBe("REVALIDATE_SECRET is not set");
  });

  it("names the environment as the service does, and refuses an unknown name", () => {
    expect(environmentOf({ NODE_ENV: "production" })).toBe("production");
    expect(environmentOf({ SABISCORE_ENV: "staging", NODE_ENV: "production" })).toBe("staging");
    expect(() => environmentOf({ SABISCORE_ENV: "prod" })).toThrow(/development, staging or production/);
  });
});

describe("the path", () => {
  it.each([
    ["/", ["/"]],
    ["/match/sy1-20270116-amberley-united-fenwick-city", ["/match/sy1-20270116-amberley-united-fenwick-city", "/"]],
    ["/match/E0_2024", ["/match/E0_2024", "/"]],
  ])("%s is a page of this site", (path, paths) => {
    expect(checkPath(path)).toEqual({ ok: true, paths });
  });

  it.each(["/../x", "/match/../x", "/match/..", "/match/x/../../etc", "/match/x?y=1", "/match/x#a", "/match/", "/match/a/b", "/models", "//match/x",
    "/match/%2e%2e", "/api/revalidate", "match/x", "", "/match/-x", `/match/${"a".repeat(300)}`, 7, null])("%s is refused", (path) => {
    expect(checkPath(path).ok).toBe(false);
  });
});

describe("POST /api/revalidate", () => {
  beforeEach(() => {
    revalidated.length = 0;
    vi.stubEnv("REVALIDATE_SECRET", SECRET);
    vi.stubEnv("SABISCORE_ENV", "production");
  });

  const post = async (body: unknown) => {
    const { POST } = await import("@/app/api/revalidate/route");
    const response = await POST(new Request("http://site/api/revalidate", { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) }));
    return { status: response.status, body: await response.json() };
  };

  it("regenerates a match page and the fixtures list", async () => {
    const answer = await post({ secret: SECRET, path: "/match/sy1-x" });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ revalidated: true, path: "/match/sy1-x" });
    expect(Date.parse(answer.body.timestamp)).not.toBeNaN();
    expect(revalidated).toEqual(["/match/sy1-x", "/"]);
  });

  it("answers 401 to a wrong or missing secret, and changes nothing", async () => {
    expect((await post({ secret: "wrong", path: "/" })).status).toBe(401);
    expect((await post({ path: "/" })).status).toBe(401);
    expect((await post({ secret: DEV_SECRET, path: "/" })).status).toBe(401);
    expect(revalidated).toEqual([]);
  });

  it("answers 400 to a path that is not a page of this site, or a body that is not JSON", async () => {
    expect((await post({ secret: SECRET, path: "/../x" })).status).toBe(400);
    expect((await post({ secret: SECRET, path: "/match/x?y" })).status).toBe(400);
    expect((await post("{not json")).status).toBe(400);
    expect((await post([SECRET, "/"])).status).toBe(400);
    expect(revalidated).toEqual([]);
  });

  it("answers its health check", async () => {
    const { GET } = await import("@/app/api/revalidate/route");
    expect(await (await GET()).json()).toEqual({ status: "ready", endpoint: "/api/revalidate" });
  });
});
