import { describe, expect, it } from "vitest";
import { bestBet, copyText, metricsOf, otherOutcomes, parseBankroll, stakeAmount, suggestedBets } from "@/lib/bets";
import type { EdgeUpdate, UpcomingFixtures } from "@/lib/types";
import fixturesJson from "./fixtures/fixtures.json";
import matchJson from "./fixtures/match.json";

// answers of a real `sabiscore serve` (GET /matches/{id}, GET /fixtures), saved as they came
const match = matchJson as EdgeUpdate;
const fixtures = fixturesJson as UpcomingFixtures;

describe("the suggested bets of a match", () => {
  it("are the outcomes the service bets (reason value_bet), with the service's numbers unchanged", () => {
    const bets = suggestedBets(match.match_id, match.edge);
    const served = match.edge!.outcomes.filter((o) => o.reason === "value_bet");
    expect(bets).toHaveLength(served.length);
    expect(bets.length).toBeGreaterThan(0);
    bets.forEach((bet, i) => {
      const o = served[i]!;
      expect(bet).toMatchObject({
        match_id: match.match_id,
        market: o.outcome,
        edge_percentage: o.edge_percentage,
        kelly_stake_percentage: o.kelly_stake_percentage,
        bookmaker_odds: o.best_odds,
        bookmaker: o.bookmaker,
        quality: o.quality,
        clv_expected: o.clv_expected,
        fair_probability: o.fair_probability,
        implied_probability: o.implied_probability,
      });
    });
    expect(otherOutcomes(match.edge).map((o) => o.reason)).not.toContain("value_bet");
    expect(bets.length + otherOutcomes(match.edge).length).toBe(3);
  });

  it("are none while no book has priced the match", () => {
    expect(suggestedBets(match.match_id, null)).toEqual([]);
    expect(bestBet(match.match_id, null)).toBeNull();
  });

  it("give each fixture's best bet: the largest edge among its value bets", () => {
    for (const f of fixtures.fixtures) {
      const best = bestBet(f.match_id, f.edge);
      const edges = (f.edge?.outcomes ?? []).filter((o) => o.reason === "value_bet").map((o) => o.edge_percentage);
      expect(best?.edge_percentage ?? null).toBe(edges.length ? Math.max(...edges) : null);
    }
  });

  it("carry the prediction's metrics as the design's PredictionMetrics", () => {
    const p = match.prediction;
    expect(metricsOf(p)).toEqual({
      home_win_probability: p.home_win_probability,
      draw_probability: p.draw_probability,
      away_win_probability: p.away_win_probability,
      confidence_score: p.confidence_score,
      brier_score: p.brier_score,
      calibration_status: p.calibration_status,
      most_likely: p.most_likely,
    });
  });
});

describe("the stake as an amount of the bankroll", () => {
  it("is kelly_stake_percentage per cent of it, to the cent", () => {
    expect(stakeAmount(1.25, 1000)).toBe(12.5);
    expect(stakeAmount(1.3621406266988711, 1000)).toBe(13.62);
    expect(stakeAmount(2.5, 250.5)).toBe(6.26);
  });

  it("is absent without a positive bankroll", () => {
    expect(stakeAmount(1.25, null)).toBeNull();
    expect(stakeAmount(1.25, 0)).toBeNull();
    expect(stakeAmount(1.25, -5)).toBeNull();
    expect(stakeAmount(1.25, Number.POSITIVE_INFINITY)).toBeNull();
  });

  it("takes what a person types: digits, a decimal point or comma, spaces", () => {
    expect(parseBankroll("1000")).toBe(1000);
    expect(parseBankroll(" 1 000 ")).toBe(1000);
    expect(parseBankroll("250,50")).toBe(250.5);
    expect(parseBankroll("")).toBeNull();
    expect(parseBankroll("-10")).toBeNull();
    expect(parseBankroll("1e3")).toBeNull();
    expect(parseBankroll("abc")).toBeNull();
    expect(parseBankroll("0")).toBeNull();
  });
});

describe("the text Copy puts on the clipboard", () => {
  const [bet] = suggestedBets(match.match_id, match.edge);

  it("names the match, the bet, the price and book, the edge, the stake and the tier", () => {
    expect(copyText(bet!, 1000)).toBe(
      "Amberley United v Fenwick City · Sat, 16 Jan 2027, 12:30 UTC · Amberley United to win @ 2.60 (bet365) · " +
        "edge +8.7% · stake 1.36% of bankroll (13.62 of 1,000.00) · PREMIUM · SabiScore 1.0.0 · sy1-20270116-amberley-united-fenwick-city",
    );
  });

  it("gives the stake as a percentage alone without a bankroll", () => {
    expect(copyText(bet!, null)).toContain("· stake 1.36% of bankroll · PREMIUM ·");
  });
});
