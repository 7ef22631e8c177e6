import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ValueBetCard } from "@/components/ValueBetCard";
import { type ValueBet, copyText, suggestedBets } from "@/lib/bets";
import type { EdgeUpdate, Quality } from "@/lib/types";
import matchJson from "./fixtures/match.json";

const match = matchJson as EdgeUpdate;
const bet: ValueBet = suggestedBets(match.match_id, match.edge)[0]!;

describe("ValueBetCard", () => {
  beforeEach(() => {
    Object.defineProperty(window, "isSecureContext", { value: true, configurable: true });
    Object.defineProperty(navigator, "clipboard", { value: { writeText: vi.fn().mockResolvedValue(undefined) }, configurable: true });
  });

  it("shows the design's fields: tier, edge, Kelly stake, fair vs implied, expected CLV, best price and book", () => {
    render(<ValueBetCard bet={bet} bankroll={null} />);
    expect(screen.getByTestId("quality-badge").textContent).toBe("PREMIUM");
    expect(screen.getByTestId("edge").textContent).toContain("+8.7%");
    expect(screen.getByTestId("edge").dataset.value).toBe(String(bet.edge_percentage));
    expect(screen.getByTestId("stake").textContent).toBe("1.36% of bankroll");
    expect(screen.queryByTestId("stake-amount")).toBeNull();
    expect(screen.getByTestId("probabilities").textContent).toMatch(/41\.8% model vs 37\.3% Bet365/);
    expect(screen.getByTestId("clv").textContent).toMatch(/^\+3\.3% \(3\.3¢ per 1 staked\)$/);
    expect(screen.getByTestId("best-odds").textContent).toBe("2.60 at Bet365");
    expect(screen.getByTestId("bet-market").textContent).toBe("Amberley United to win");
  });

  it.each<[Quality, string]>([
    ["PREMIUM", "tone-green"],
    ["VALUE", "tone-blue"],
    ["MARGINAL", "tone-yellow"],
    ["AVOID", "tone-red"],
  ])("gives tier %s the %s badge", (quality, tone) => {
    const { container } = render(<ValueBetCard bet={{ ...bet, quality }} bankroll={null} />);
    const badge = screen.getByTestId("quality-badge");
    expect(badge.textContent).toBe(quality);
    expect(badge.classList.contains(tone)).toBe(true);
    expect(container.querySelector(`.tier-${quality.toLowerCase()}`)).not.toBeNull();
  });

  it("turns the stake into an amount of the bankroll typed", () => {
    render(<ValueBetCard bet={bet} bankroll={1000} />);
    expect(screen.getByTestId("stake-amount").textContent).toBe(" = 13.62");
    expect(screen.getByTestId("stake-amount").dataset.value).toBe("13.62");
  });

  it("says when there is no closing-line model", () => {
    render(<ValueBetCard bet={{ ...bet, clv_expected: null }} bankroll={null} />);
    expect(screen.getByTestId("clv").textContent).toBe("no closing-line model");
  });

  it("copies the bet's details to the clipboard", async () => {
    render(<ValueBetCard bet={bet} bankroll={500} />);
    fireEvent.click(screen.getByTestId("copy"));
    await waitFor(() => expect(screen.getByTestId("copy").textContent).toBe("Copied ✓"));
    expect(navigator.clipboard.writeText).toHaveBeenCalledWith(copyText(bet, 500));
    expect(copyText(bet, 500)).toContain("stake 1.36% of bankroll (6.81 of 500.00)");
  });

  it("opens the bookmaker's site in a new tab, and offers no link for a book it does not know", () => {
    const { unmount } = render(<ValueBetCard bet={bet} bankroll={null} />);
    const link = screen.getByTestId("place-bet") as HTMLAnchorElement;
    expect(link.href).toBe("https://www.bet365.com/");
    expect(link.target).toBe("_blank");
    expect(link.rel).toBe("noopener noreferrer");
    unmount();
    render(<ValueBetCard bet={{ ...bet, bookmaker: "some_new_book" }} bankroll={null} />);
    expect(screen.queryByTestId("place-bet")).toBeNull();
    expect(screen.getByTestId("place-bet-missing").textContent).toContain("Some new book");
  });
});
