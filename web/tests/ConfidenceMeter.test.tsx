import { render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { ConfidenceMeter, OUTCOME_COLOURS } from "@/components/ConfidenceMeter";
import { metricsOf } from "@/lib/bets";
import type { EdgeUpdate } from "@/lib/types";
import matchJson from "./fixtures/match.json";

// jsdom has no canvas: the chart's data and options are what is checked
const doughnut = vi.hoisted(() => ({ props: null as null | { data: any; options: any } }));
vi.mock("react-chartjs-2", () => ({
  Doughnut: (props: { data: unknown; options: unknown }) => {
    doughnut.props = props as never;
    return <canvas data-testid="doughnut" />;
  },
}));

const match = matchJson as EdgeUpdate;
const metrics = metricsOf(match.prediction);

describe("ConfidenceMeter", () => {
  it("draws a doughnut of home / draw / away in the design's colours and settings", () => {
    render(<ConfidenceMeter metrics={metrics} />);
    const { data, options } = doughnut.props!;
    expect(data.datasets[0].data).toEqual([41.8, 26.8, 31.3]);
    expect(data.datasets[0].backgroundColor).toEqual([OUTCOME_COLOURS.home, OUTCOME_COLOURS.draw, OUTCOME_COLOURS.away]);
    expect(data.datasets[0].hoverOffset).toBe(8);
    expect(options.cutout).toBe("70%");
    expect(options.animation.duration).toBe(800);
    expect(options.responsive).toBe(true);
  });

  it("shows the confidence score in the centre and the probability list", () => {
    render(<ConfidenceMeter metrics={metrics} labels={{ home: "Amberley United", draw: "Draw", away: "Fenwick City" }} />);
    expect(screen.getByTestId("confidence").textContent).toBe("42%confidence");
    expect(screen.getByTestId("prob-home").textContent).toContain("Amberley United41.8%");
    expect(screen.getByTestId("prob-draw").textContent).toContain("Draw26.8%");
    expect(screen.getByTestId("prob-away").textContent).toContain("Fenwick City31.3%");
  });

  it("marks the most likely outcome", () => {
    render(<ConfidenceMeter metrics={{ ...metrics, most_likely: undefined, home_win_probability: 0.2, draw_probability: 0.3, away_win_probability: 0.5 }} />);
    expect(screen.getByTestId("prob-away").querySelector("[data-testid=most-likely]")).not.toBeNull();
    expect(screen.getAllByTestId("most-likely")).toHaveLength(1);
  });

  it.each([
    ["excellent", "tone-green"],
    ["good", "tone-blue"],
    ["fair", "tone-yellow"],
    ["poor", "tone-red"],
  ] as const)("shows calibration %s with the %s badge", (status, tone) => {
    render(<ConfidenceMeter metrics={{ ...metrics, calibration_status: status }} />);
    const badge = screen.getByTestId("calibration");
    expect(badge.textContent).toBe(status);
    expect(badge.classList.contains(tone)).toBe(true);
  });

  it("shows the holdout Brier score as a number and a bar", () => {
    render(<ConfidenceMeter metrics={metrics} />);
    expect(screen.getByTestId("brier").textContent).toBe(metrics.brier_score!.toFixed(3));
    expect(screen.getByRole("meter").getAttribute("aria-valuenow")).toBe(String(metrics.brier_score));
  });

  it("says so when the Brier score is unknown", () => {
    render(<ConfidenceMeter metrics={{ ...metrics, brier_score: null }} />);
    expect(screen.getByTestId("brier").textContent).toBe("—");
    expect(screen.queryByRole("meter")).toBeNull();
  });
});
