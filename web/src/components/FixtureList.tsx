"use client";

import Link from "next/link";
import { useMemo, useState } from "react";
import { type ValueBet, kickoffText, outcomeLabel, pct, signedPct } from "@/lib/bets";
import { bookmakerName } from "@/lib/bookmakers";
import { OUTCOME_COLOURS } from "./ConfidenceMeter";
import { QualityBadge } from "./QualityBadge";

export interface FixtureRow {
  match_id: string;
  league: string;
  kickoff: string | null;
  home_team: string;
  away_team: string;
  home_win_probability: number;
  draw_probability: number;
  away_win_probability: number;
  priced: boolean;
  best: ValueBet | null;
}

/** The fixtures by league, in kick-off order, with a league filter. */
export function FixtureList({ rows }: { rows: FixtureRow[] }) {
  const leagues = useMemo(() => [...new Set(rows.map((r) => r.league))].sort(), [rows]);
  const [league, setLeague] = useState<string>("all");
  const shown = league === "all" ? leagues : leagues.filter((l) => l === league);

  return (
    <div>
      <div className="page-head">
        <div className="muted small">{rows.length} upcoming fixture{rows.length === 1 ? "" : "s"} in {leagues.length} league{leagues.length === 1 ? "" : "s"}</div>
        <label className="filter">
          <span className="muted small">League</span>
          <select value={league} onChange={(e) => setLeague(e.target.value)} data-testid="league-filter">
            <option value="all">All leagues</option>
            {leagues.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </label>
      </div>
      {shown.map((l) => (
        <section key={l} className="league" data-testid="league" data-league={l}>
          <h2>{l}</h2>
          <table className="fixtures">
            <thead>
              <tr>
                <th>Kick-off</th>
                <th>Match</th>
                <th>Home · Draw · Away</th>
                <th>Best value bet</th>
              </tr>
            </thead>
            <tbody>
              {rows
                .filter((r) => r.league === l)
                .map((r) => (
                  <tr key={r.match_id} data-testid="fixture" data-match-id={r.match_id}>
                    <td className="num">{r.kickoff ? kickoffText(r.kickoff) : "—"}</td>
                    <td>
                      <Link href={`/match/${r.match_id}`} data-testid="fixture-link">
                        {r.home_team} v {r.away_team}
                      </Link>
                    </td>
                    <td className="num">
                      {pct(r.home_win_probability)} · {pct(r.draw_probability)} · {pct(r.away_win_probability)}
                      <div className="probs" aria-hidden>
                        <span style={{ width: `${r.home_win_probability * 100}%`, background: OUTCOME_COLOURS.home }} />
                        <span style={{ width: `${r.draw_probability * 100}%`, background: OUTCOME_COLOURS.draw }} />
                        <span style={{ width: `${r.away_win_probability * 100}%`, background: OUTCOME_COLOURS.away }} />
                      </div>
                    </td>
                    <td data-testid="best-bet" data-edge={r.best?.edge_percentage ?? ""}>
                      {r.best ? (
                        <>
                          <QualityBadge quality={r.best.quality} /> {outcomeLabel(r.best)} @ {r.best.bookmaker_odds.toFixed(2)}{" "}
                          <span className="muted">{bookmakerName(r.best.bookmaker)}</span> <strong>{signedPct(r.best.edge_percentage)}</strong>
                        </>
                      ) : (
                        <span className="muted">{r.priced ? "no value at current prices" : "no prices yet"}</span>
                      )}
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
        </section>
      ))}
    </div>
  );
}
