/**
 * The SabiScore service's answers, field for field as bentos/schemas.py builds them (the
 * service's OpenAPI document at /docs.json is the reference). Probabilities and clv_expected
 * are fractions; edge_percentage and kelly_stake_percentage are per cent.
 */

export type Outcome = "home" | "draw" | "away";
export type Quality = "PREMIUM" | "VALUE" | "MARGINAL" | "AVOID";
export type CalibrationStatus = "excellent" | "good" | "fair" | "poor";
export type BetReason = "value_bet" | "below_min_edge" | "sharp_contradicts";

export interface Prediction {
  league: string;
  home_team: string;
  away_team: string;
  kickoff: string | null;
  home_win_probability: number;
  draw_probability: number;
  away_win_probability: number;
  most_likely: Outcome;
  confidence_score: number;
  brier_score: number | null;
  calibration_status: CalibrationStatus;
  model_version: string;
  model_semver: string;
}

export interface OutcomeEdge {
  outcome: Outcome;
  fair_probability: number;
  implied_probability: number;
  best_odds: number;
  net_odds: number;
  bookmaker: string;
  edge_percentage: number;
  kelly_stake_percentage: number;
  quality: Quality;
  clv_expected: number | null;
  reason: BetReason;
  sharp_probability: number | null;
  sharp_edge_percentage: number | null;
}

export interface SharpReference {
  bookmaker: string | null;
  sharp_books: string[];
  tolerance_percentage: number;
  note: string;
}

export interface EdgeResponse {
  league: string;
  home_team: string;
  away_team: string;
  kickoff: string | null;
  outcomes: OutcomeEdge[];
  total_stake_percentage: number;
  implied_method: string;
  clv_reference: string | null;
  sharp_reference: SharpReference;
  model_version: string;
  model_semver: string;
}

/** `GET /matches/{id}`, `POST /odds` and every edge message of `WS /ws/edge/{id}`. */
export interface EdgeUpdate {
  type: "edge";
  match_id: string;
  prediction: Prediction;
  edge: EdgeResponse | null;
  updated_at: string;
}

export interface Heartbeat {
  type: "heartbeat";
  at: string;
}

export interface FixtureForecast {
  match_id: string;
  league: string;
  kickoff: string | null;
  home_team: string;
  away_team: string;
  home_win_probability: number;
  draw_probability: number;
  away_win_probability: number;
  books: string[];
  bets: number;
  edge: EdgeResponse | null;
}

export interface SkippedFixture {
  match_id: string;
  league: string;
  kickoff: string | null;
  home_team: string;
  away_team: string;
  reason: string;
}

/** `GET /fixtures`. */
export interface UpcomingFixtures {
  model_version: string;
  model_semver: string;
  trained_through: string | null;
  generated_at: string;
  fixtures: FixtureForecast[];
  skipped: SkippedFixture[];
}

export interface Scores {
  n: number | null;
  log_loss: number | null;
  rps: number | null;
  brier: number | null;
  ece: number | null;
}

export interface MarketScores extends Scores {
  forecaster: string;
}

export interface RegisteredVersion {
  version: string;
  semver: string | null;
  aliases: string[];
  registered_at: string | null;
  trained_through: string | null;
  refit_of: string | null;
  archived?: boolean;
  promoted: boolean | null;
  promotion_reason: string | null;
  holdout: Scores;
  market: MarketScores | null;
  clv_mean?: number | null;
  clv_ci?: number[] | null;
}

export interface ReliabilityPoint {
  class: "H" | "D" | "A";
  bin: number;
  mean_predicted: number;
  observed: number;
  count: number;
}

export interface Calibration {
  version: string;
  curves: Record<string, ReliabilityPoint[]>;
}

/** `GET /models`. */
export interface ModelsReport {
  model_name?: string;
  champion: string | null;
  versions: RegisteredVersion[];
  calibration: Calibration | null;
}
