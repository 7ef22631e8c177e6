"use client";

import { ArcElement, Chart as ChartJS, Tooltip } from "chart.js";
import { Doughnut } from "react-chartjs-2";
import { type PredictionMetrics, mostLikely, pct } from "@/lib/bets";
import { CALIBRATION_CLASS } from "./QualityBadge";

ChartJS.register(ArcElement, Tooltip);

/** Home green, draw yellow, away red (the design's doughnut). */
export const OUTCOME_COLOURS = { home: "#16a34a", draw: "#eab308", away: "#dc2626" } as const;
/** A uniform forecast's Brier score (sum over three outcomes): the bar's full width. */
export const BRIER_NO_SKILL = 2 / 3;

export interface ConfidenceMeterProps {
  metrics: PredictionMetrics;
  labels?: { home: string; draw: string; away: string };
}

/**
 * The model's 1X2 forecast: a doughnut of home / draw / away with the confidence score (the
 * probability of the most likely outcome) in its centre, the probabilities as a list, the
 * holdout calibration status, the holdout Brier score as a bar and the most likely outcome.
 */
export function ConfidenceMeter({ metrics, labels = { home: "Home", draw: "Draw", away: "Away" } }: ConfidenceMeterProps) {
  const values = [metrics.home_win_probability, metrics.draw_probability, metrics.away_win_probability];
  const likely = mostLikely(metrics);
  const rows = [
    { key: "home", label: labels.home, value: metrics.home_win_probability },
    { key: "draw", label: labels.draw, value: metrics.draw_probability },
    { key: "away", label: labels.away, value: metrics.away_win_probability },
  ] as const;
  const brier = metrics.brier_score;

  return (
    <section className="card meter" data-testid="confidence-meter" aria-label="The model's forecast">
      <div className="meter-chart">
        <Doughnut
          data={{
            labels: rows.map((r) => r.label),
            datasets: [
              {
                data: values.map((v) => Math.round(v * 1000) / 10),
                backgroundColor: [OUTCOME_COLOURS.home, OUTCOME_COLOURS.draw, OUTCOME_COLOURS.away],
                borderWidth: 0,
                hoverOffset: 8,
              },
            ],
          }}
          options={{
            cutout: "70%",
            responsive: true,
            maintainAspectRatio: true,
            animation: { duration: 800, easing: "easeOutQuart" },
            layout: { padding: 8 },
            plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => `${c.label}: ${c.parsed}%` } } },
          }}
        />
        <div className="meter-centre" data-testid="confidence" data-value={metrics.confidence_score}>
          <span className="meter-centre-value">{pct(metrics.confidence_score, 0)}</span>
          <span className="meter-centre-label">confidence</span>
        </div>
      </div>

      <div className="meter-side">
        <ul className="prob-list">
          {rows.map((r) => (
            <li key={r.key} data-testid={`prob-${r.key}`} data-value={r.value}>
              <span className="swatch" style={{ background: OUTCOME_COLOURS[r.key] }} />
              <span className="prob-label">{r.label}</span>
              <span className="prob-value">{pct(r.value)}</span>
              {likely === r.key && (
                <span className="badge tone-green" data-testid="most-likely">
                  most likely
                </span>
              )}
            </li>
          ))}
        </ul>

        <div className="meter-quality">
          <div className="meter-row">
            <span className="muted">Calibration</span>
            {metrics.calibration_status ? (
              <span className={`badge ${CALIBRATION_CLASS[metrics.calibration_status]}`} data-testid="calibration" data-value={metrics.calibration_status}>
                {metrics.calibration_status}
              </span>
            ) : (
              <span className="muted">unknown</span>
            )}
          </div>
          <div className="meter-row">
            <span className="muted">Holdout Brier</span>
            <span data-testid="brier" data-value={brier ?? ""}>{brier === null || brier === undefined ? "—" : brier.toFixed(3)}</span>
          </div>
          {brier !== null && brier !== undefined && (
            <div className="brier-bar" role="meter" aria-valuemin={0} aria-valuemax={BRIER_NO_SKILL} aria-valuenow={brier} aria-label="Holdout Brier score">
              <span style={{ width: `${Math.min(100, (brier / BRIER_NO_SKILL) * 100)}%` }} />
            </div>
          )}
          <div className="muted small">Lower is better; a uniform guess scores 0.667, the market about 0.58.</div>
        </div>
      </div>
    </section>
  );
}
