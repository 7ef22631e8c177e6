/**
 * What the pages show of the service's numbers: the design's `ValueBet` (one suggested bet,
 * the props of `ValueBetCard`) and `PredictionMetrics` (the props of `ConfidenceMeter`), made
 * from the service's answers without changing a number; the stake as an amount of a bankroll;
 * the text "Copy" puts on the clipboard.
 */
import type { BetReason, CalibrationStatus, EdgeResponse, OutcomeEdge, Outcome, Prediction, Quality } from "./types";

/** The design's props of ValueBetCard, with the fields the service adds beside them. */
export interface ValueBet {
  match_id: string;
  home_team: string;
  away_team: string;
  market: Outcome;
  edge_percentage: number;
  kelly_stake_percentage: number;
  bookmaker_odds: number;
  quality: Quality;
  clv_expected?: number | null;
  bookmaker: string;
  fair_probability: number;
  implied_probability: number;
  sharp_probability: number | null;
  reason: BetReason;
  kickoff: string | null;
  league: string;
  model_semver: string;
}

/** The design's props of ConfidenceMeter. */
export interface PredictionMetrics {
  home_win_probability: number;
  draw_probability: number;
  away_win_probability: number;
  confidence_score: number;
  brier_score?: number | null;
  calibration_status?: CalibrationStatus;
  most_likely?: Outcome;
}

export const OUTCOMES: readonly Outcome[] = ["home", "draw", "away"];

export function valueBetOf(matchId: string, edge: EdgeResponse, outcome: OutcomeEdge): ValueBet {
  return {
    match_id: matchId,
    home_team: edge.home_team,
    away_team: edge.away_team,
    market: outcome.outcome,
    edge_percentage: outcome.edge_percentage,
    kelly_stake_percentage: outcome.kelly_stake_percentage,
    bookmaker_odds: outcome.best_odds,
    quality: outcome.quality,
    clv_expected: outcome.clv_expected,
    bookmaker: outcome.bookmaker,
    fair_probability: outcome.fair_probability,
    implied_probability: outcome.implied_probability,
    sharp_probability: outcome.sharp_probability,
    reason: outcome.reason,
    kickoff: edge.kickoff,
    league: edge.league,
    model_semver: edge.model_semver,
  };
}

/** The suggested bets of a match: its outcomes the staking rule bets (reason value_bet). */
export function suggestedBets(matchId: string, edge: EdgeResponse | null): ValueBet[] {
  if (!edge) return [];
  return edge.outcomes
    .filter((o) => o.reason === "value_bet" && o.kelly_stake_percentage > 0)
    .map((o) => valueBetOf(matchId, edge, o));
}

/** The outcomes not bet, with why. */
export function otherOutcomes(edge: EdgeResponse | null): OutcomeEdge[] {
  if (!edge) return [];
  return edge.outcomes.filter((o) => !(o.reason === "value_bet" && o.kelly_stake_percentage > 0));
}

/** The match's best bet: the suggested bet with the largest edge (none: null). */
export function bestBet(matchId: string, edge: EdgeResponse | null): ValueBet | null {
  const bets = suggestedBets(matchId, edge);
  return bets.reduce<ValueBet | null>((best, bet) => (best === null || bet.edge_percentage > best.edge_percentage ? bet : best), null);
}

export function metricsOf(prediction: Prediction): PredictionMetrics {
  return {
    home_win_probability: prediction.home_win_probability,
    draw_probability: prediction.draw_probability,
    away_win_probability: prediction.away_win_probability,
    confidence_score: prediction.confidence_score,
    brier_score: prediction.brier_score,
    calibration_status: prediction.calibration_status,
    most_likely: prediction.most_likely,
  };
}

/** The most likely outcome of the three probabilities (the first on a tie: home, draw, away). */
export function mostLikely(metrics: PredictionMetrics): Outcome {
  if (metrics.most_likely) return metrics.most_likely;
  const p = [metrics.home_win_probability, metrics.draw_probability, metrics.away_win_probability];
  return OUTCOMES[p.indexOf(Math.max(...p))] ?? "home";
}

/**
 * The stake as an amount: `kelly_stake_percentage` % of the bankroll, to the cent; null for
 * a bankroll that is not a positive finite amount.
 *
 * stakeAmount(1.25, 1000) === 12.5
 */
export function stakeAmount(kellyStakePercentage: number, bankroll: number | null | undefined): number | null {
  if (bankroll === null || bankroll === undefined || !Number.isFinite(bankroll) || bankroll <= 0) return null;
  return Math.round(kellyStakePercentage * bankroll) / 100;
}

/** A bankroll typed by the user: digits with an optional decimal point or comma; else null. */
export function parseBankroll(text: string): number | null {
  const cleaned = text.trim().replace(/[\s_]/g, "").replace(",", ".");
  if (!/^\d+(\.\d+)?$/.test(cleaned)) return null;
  const value = Number(cleaned);
  return Number.isFinite(value) && value > 0 ? value : null;
}

export function outcomeLabel(bet: Pick<ValueBet, "market" | "home_team" | "away_team">): string {
  if (bet.market === "home") return `${bet.home_team} to win`;
  if (bet.market === "away") return `${bet.away_team} to win`;
  return "Draw";
}

/** What "Copy" puts on the clipboard: one line a person can paste into a bet slip or a chat. */
export function copyText(bet: ValueBet, bankroll: number | null): string {
  const amount = stakeAmount(bet.kelly_stake_percentage, bankroll);
  const stake = `stake ${bet.kelly_stake_percentage.toFixed(2)}% of bankroll` + (amount === null ? "" : ` (${money(amount)} of ${money(bankroll ?? 0)})`);
  const parts = [
    `${bet.home_team} v ${bet.away_team}`,
    bet.kickoff ? kickoffText(bet.kickoff) : null,
    `${outcomeLabel(bet)} @ ${bet.bookmaker_odds.toFixed(2)} (${bet.bookmaker})`,
    `edge ${signedPct(bet.edge_percentage)}`,
    stake,
    `${bet.quality}`,
    `SabiScore ${bet.model_semver} · ${bet.match_id}`,
  ];
  return parts.filter((p): p is string => p !== null).join(" · ");
}

// --- formatting (UTC throughout: the server's HTML and the browser's render agree) ----------

export const pct = (fraction: number, digits = 1) => `${(fraction * 100).toFixed(digits)}%`;
export const signedPct = (percentage: number, digits = 1) => `${percentage >= 0 ? "+" : "−"}${Math.abs(percentage).toFixed(digits)}%`;
export const money = (amount: number) => amount.toLocaleString("en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

const DAY = new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
const HM = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: "UTC" });
const HMS = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZone: "UTC" });

export const kickoffText = (iso: string) => `${DAY.format(new Date(iso))}, ${HM.format(new Date(iso))} UTC`;
export const clockText = (iso: string | Date) => HMS.format(typeof iso === "string" ? new Date(iso) : iso);

export const REASONS: Record<BetReason, string> = {
  value_bet: "value bet",
  below_min_edge: "edge below the minimum",
  sharp_contradicts: "the sharp line contradicts it",
};
