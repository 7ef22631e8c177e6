"use client";

import { useState } from "react";
import { type ValueBet, copyText, money, outcomeLabel, pct, signedPct, stakeAmount } from "@/lib/bets";
import { bookmakerName, bookmakerUrl } from "@/lib/bookmakers";
import { QualityBadge } from "./QualityBadge";

export interface ValueBetCardProps {
  bet: ValueBet;
  /** The user's bankroll (kept in the browser); null: the stake as a percentage only. */
  bankroll: number | null;
}

/**
 * One suggested bet, as a bet slip: its tier, the edge in large type, the fractional Kelly
 * stake (of the bankroll, and as an amount of the user's), the model's fair probability beside
 * the book's de-margined one, the expected closing-line value, the best price and its book;
 * "Copy" puts the bet on the clipboard, "Place bet" opens the book's site in a new tab.
 */
export function ValueBetCard({ bet, bankroll }: ValueBetCardProps) {
  const [copied, setCopied] = useState<"idle" | "copied" | "failed">("idle");
  const amount = stakeAmount(bet.kelly_stake_percentage, bankroll);
  const site = bookmakerUrl(bet.bookmaker);
  const book = bookmakerName(bet.bookmaker);

  async function copy() {
    const text = copyText(bet, bankroll);
    try {
      await writeClipboard(text);
      setCopied("copied");
    } catch {
      setCopied("failed");
    }
    window.setTimeout(() => setCopied("idle"), 2000);
  }

  return (
    <article className={`card bet-card tier-${bet.quality.toLowerCase()}`} data-testid="value-bet-card" data-market={bet.market}>
      <header className="bet-card-head">
        <div>
          <div className="bet-market" data-testid="bet-market">{outcomeLabel(bet)}</div>
          <div className="muted small">{bet.home_team} v {bet.away_team}</div>
        </div>
        <QualityBadge quality={bet.quality} />
      </header>

      <div className="bet-edge" data-testid="edge" data-value={bet.edge_percentage}>
        {signedPct(bet.edge_percentage)}
        <span className="bet-edge-label">edge</span>
      </div>

      <dl className="bet-facts">
        <div>
          <dt>Best price</dt>
          <dd data-testid="best-odds" data-value={bet.bookmaker_odds}>
            {bet.bookmaker_odds.toFixed(2)} <span className="muted">at</span> <span data-testid="bookmaker">{book}</span>
          </dd>
        </div>
        <div>
          <dt>Stake (Kelly)</dt>
          <dd data-testid="stake" data-value={bet.kelly_stake_percentage}>
            {bet.kelly_stake_percentage.toFixed(2)}% of bankroll
            {amount !== null && (
              <span className="stake-amount" data-testid="stake-amount" data-value={amount}>
                {" "}= {money(amount)}
              </span>
            )}
          </dd>
        </div>
        <div>
          <dt>Fair vs implied</dt>
          <dd data-testid="probabilities" data-fair={bet.fair_probability} data-implied={bet.implied_probability}>
            <span className="fair">{pct(bet.fair_probability)}</span> <span className="muted">model vs</span>{" "}
            <span className="implied">{pct(bet.implied_probability)}</span> <span className="muted">{book}</span>
            <span className="prob-bars" aria-hidden>
              <span className="prob-bar fair-bar" style={{ width: `${Math.min(100, bet.fair_probability * 100)}%` }} />
              <span className="prob-bar implied-bar" style={{ width: `${Math.min(100, bet.implied_probability * 100)}%` }} />
            </span>
          </dd>
        </div>
        <div>
          <dt>Expected CLV</dt>
          <dd data-testid="clv" data-value={bet.clv_expected ?? ""}>
            {bet.clv_expected === null || bet.clv_expected === undefined ? (
              <span className="muted">no closing-line model</span>
            ) : (
              <>
                {signedPct(bet.clv_expected * 100)} <span className="muted">({(bet.clv_expected * 100).toFixed(1)}¢ per 1 staked)</span>
              </>
            )}
          </dd>
        </div>
      </dl>

      <footer className="bet-actions">
        <button type="button" className="button" onClick={copy} data-testid="copy">
          {copied === "copied" ? "Copied ✓" : copied === "failed" ? "Copy failed" : "Copy"}
        </button>
        {site ? (
          <a className="button primary" href={site} target="_blank" rel="noopener noreferrer" data-testid="place-bet">
            Place bet at {book} ↗
          </a>
        ) : (
          <span className="muted small" data-testid="place-bet-missing">no known site for {book}</span>
        )}
      </footer>
    </article>
  );
}

/** The Clipboard API where the page is a secure context, else a hidden textarea's copy. */
async function writeClipboard(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("copy refused");
}
