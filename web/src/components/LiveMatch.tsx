"use client";

import { useEffect, useState } from "react";
import { REASONS, clockText, metricsOf, otherOutcomes, pct, signedPct, suggestedBets } from "@/lib/bets";
import { bookmakerName } from "@/lib/bookmakers";
import type { EdgeUpdate } from "@/lib/types";
import { useBankroll } from "@/lib/useBankroll";
import { type LiveEdge, useLiveEdge } from "@/lib/useLiveEdge";
import { ConfidenceMeter } from "./ConfidenceMeter";
import { QualityBadge } from "./QualityBadge";
import { ValueBetCard } from "./ValueBetCard";

export interface LiveMatchProps {
  initial: EdgeUpdate;
  /** The service's WebSocket base (ws://host:port), read on the server when the page rendered. */
  wsBase: string;
}

/** The match's forecast and bets, kept current by the service's pushes. */
export function LiveMatch({ initial, wsBase }: LiveMatchProps) {
  const live = useLiveEdge(initial, wsBase);
  const { update } = live;
  const { text, bankroll, setText } = useBankroll();
  const prediction = update.prediction;
  const bets = suggestedBets(update.match_id, update.edge);
  const others = otherOutcomes(update.edge);

  return (
    <div className="live-match" data-testid="live-match" data-updated-at={update.updated_at} data-pushes={live.pushes}>
      <LiveStatusBar live={live} />
      <p className="muted small" data-testid="model-line">
        Priced by model version <strong data-testid="model-version">{prediction.model_version}</strong> (semver{" "}
        <span data-testid="model-semver">{prediction.model_semver}</span>)
      </p>

      <div className="match-grid">
        <ConfidenceMeter metrics={metricsOf(prediction)} labels={{ home: prediction.home_team, draw: "Draw", away: prediction.away_team }} />

        <section className="bets" aria-label="Value bets">
          <div className="bets-head">
            <h2>Value bets</h2>
            <label className="bankroll">
              Bankroll
              <input
                type="text"
                inputMode="decimal"
                placeholder="e.g. 1000"
                value={text}
                onChange={(e) => setText(e.target.value)}
                data-testid="bankroll"
                aria-label="Your bankroll"
              />
            </label>
          </div>
          {text.trim() !== "" && bankroll === null && <p className="warn small">A bankroll is a positive amount, e.g. 1000 or 250.50.</p>}

          {update.edge === null ? (
            <p className="empty" data-testid="no-prices">
              No bookmaker has priced this match yet: the forecast stands alone. Bets appear here as soon as prices arrive.
            </p>
          ) : bets.length === 0 ? (
            <p className="empty" data-testid="no-value">
              No value bet at the current prices: no outcome has a large enough edge that the sharp line agrees with.
            </p>
          ) : (
            <div className="bet-cards">
              {bets.map((bet) => (
                <ValueBetCard key={bet.market} bet={bet} bankroll={bankroll} />
              ))}
            </div>
          )}

          {others.length > 0 && (
            <table className="others" data-testid="other-outcomes">
              <caption>Not bet</caption>
              <thead>
                <tr>
                  <th>Outcome</th>
                  <th>Best price</th>
                  <th>Fair</th>
                  <th>Implied</th>
                  <th>Edge</th>
                  <th>Why not</th>
                </tr>
              </thead>
              <tbody>
                {others.map((o) => (
                  <tr key={o.outcome} data-testid={`other-${o.outcome}`} data-edge={o.edge_percentage}>
                    <td>{o.outcome === "home" ? prediction.home_team : o.outcome === "away" ? prediction.away_team : "Draw"}</td>
                    <td>
                      {o.best_odds.toFixed(2)} <span className="muted">{bookmakerName(o.bookmaker)}</span>
                    </td>
                    <td>{pct(o.fair_probability)}</td>
                    <td>{pct(o.implied_probability)}</td>
                    <td>{signedPct(o.edge_percentage)}</td>
                    <td>
                      <QualityBadge quality={o.quality} /> <span className="muted small">{REASONS[o.reason]}</span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {update.edge && <p className="muted small">{update.edge.sharp_reference.note}</p>}
        </section>
      </div>
    </div>
  );
}

function LiveStatusBar({ live }: { live: LiveEdge }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (live.status !== "paused") return;
    const timer = window.setInterval(() => setNow(Date.now()), 500);
    return () => window.clearInterval(timer);
  }, [live.status]);
  const seconds = live.retryAt ? Math.max(0, Math.ceil((live.retryAt - now) / 1000)) : null;

  return (
    <div className={`live-bar live-${live.status}`} data-testid="live-status" data-status={live.status}>
      <span className="live-dot" aria-hidden />
      {live.status === "live" && <span>Live</span>}
      {live.status === "connecting" && <span>Connecting to live updates…</span>}
      {live.status === "paused" && (
        <span data-testid="paused">
          Live updates paused: {live.reason}
          {seconds !== null && `; retrying in ${seconds} s`}. The numbers below are the last known.
        </span>
      )}
      <span className="live-updated" data-testid="updated" data-value={live.update.updated_at}>
        updated {clockText(live.update.updated_at)} UTC
      </span>
    </div>
  );
}
