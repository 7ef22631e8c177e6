"use client";

import { Chart as ChartJS, Legend, LineElement, LinearScale, PointElement, Tooltip } from "chart.js";
import { Scatter } from "react-chartjs-2";
import type { ReliabilityPoint } from "@/lib/types";

ChartJS.register(LinearScale, PointElement, LineElement, Tooltip, Legend);

const CLASS_NAMES = { H: "Home win", D: "Draw", A: "Away win" } as const;
const PALETTE = ["#2563eb", "#94a3b8", "#16a34a", "#eab308", "#dc2626", "#7c3aed"];

/**
 * Reliability curves of one outcome class: for each forecaster, the observed frequency against
 * the mean predicted probability per bin (points sized by how many matches fell in the bin).
 * On the diagonal, a forecast of 30 % comes true 30 % of the time.
 */
export function CalibrationPlot({ cls, curves }: { cls: "H" | "D" | "A"; curves: Record<string, ReliabilityPoint[]> }) {
  const names = Object.keys(curves).sort((a, b) => (a === "ensemble" ? -1 : b === "ensemble" ? 1 : a.localeCompare(b)));
  const datasets = names.map((name, i) => {
    const points = (curves[name] ?? []).filter((p) => p.class === cls && p.count > 0).sort((a, b) => a.mean_predicted - b.mean_predicted);
    const colour = PALETTE[i % PALETTE.length] ?? "#2563eb";
    return {
      label: name,
      data: points.map((p) => ({ x: p.mean_predicted, y: p.observed, count: p.count })),
      showLine: true,
      borderColor: colour,
      backgroundColor: colour,
      pointRadius: points.map((p) => Math.max(2, Math.min(7, Math.sqrt(p.count)))),
      borderWidth: name === "ensemble" ? 2.5 : 1.5,
    };
  });
  const top = Math.min(1, Math.max(0.3, ...datasets.flatMap((d) => d.data.flatMap((p) => [p.x, p.y]))) + 0.05);
  const diagonal = { label: "perfect", data: [{ x: 0, y: 0 }, { x: top, y: top }], showLine: true, borderColor: "#cbd5e1", borderDash: [5, 4], pointRadius: 0, borderWidth: 1 };

  return (
    <figure className="card" data-testid={`calibration-${cls}`} style={{ margin: 0 }}>
      <figcaption>
        <strong>{CLASS_NAMES[cls]}</strong> <span className="muted small">observed vs predicted</span>
      </figcaption>
      <Scatter
        data={{ datasets: [diagonal, ...datasets] }}
        options={{
          animation: false,
          responsive: true,
          aspectRatio: 1.2,
          scales: {
            x: { min: 0, max: top, title: { display: true, text: "mean predicted probability" } },
            y: { min: 0, max: top, title: { display: true, text: "observed frequency" } },
          },
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12, filter: (item) => item.text !== "perfect" } } },
        }}
      />
    </figure>
  );
}
