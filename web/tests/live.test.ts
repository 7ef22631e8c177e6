import { describe, expect, it } from "vitest";
import { backoffDelay } from "@/lib/useLiveEdge";

describe("the reconnect backoff", () => {
  it("doubles from half a second up to its cap, with ±20 % jitter", () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => backoffDelay(n, 500, 8000, mid))).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000]);
    expect(backoffDelay(0, 500, 8000, () => 0)).toBe(400);
    expect(backoffDelay(0, 500, 8000, () => 1)).toBe(600);
  });
});
