import { CalibrationPlot } from "@/components/CalibrationPlot";
import { GeneratedAt } from "@/components/GeneratedAt";
import { FailureNotice } from "@/components/Notice";
import { getModels } from "@/lib/api";
import type { RegisteredVersion, ReliabilityPoint } from "@/lib/types";

/** The registry changes at a promotion, not at each price: regenerated at most every minute. */
export const revalidate = 60;
export const metadata = { title: "Models" };

export default async function ModelsPage() {
  const answer = await getModels(10);
  const generatedAt = new Date().toISOString();
  if (!answer.ok) {
    return (
      <>
        <h1>Models</h1>
        <FailureNotice failure={answer.failure} what="model versions" />
        <GeneratedAt at={generatedAt} />
      </>
    );
  }
  const { champion, versions, calibration } = answer.value;
  const current = versions.find((v) => v.version === champion) ?? null;

  return (
    <>
      <h1>Models</h1>
      <p className="muted">
        What the forecasts rest on: each registered version scored on the promotion gate&apos;s holdout matches beside the betting market on the same matches
        (lower is better), and whether the gate promoted it.
      </p>
      {champion === null ? (
        <div className="notice" data-testid="no-champion">
          <h2>No champion yet</h2>
          <p>No version has been promoted, so the service makes no forecasts. Run the pipeline (<code>sabiscore pipeline</code>): a first model that passes the gate becomes the champion.</p>
        </div>
      ) : (
        current && <ChampionSummary version={current} />
      )}

      <h2 style={{ marginTop: "1.5rem" }}>Recent versions</h2>
      {versions.length === 0 ? (
        <p className="empty">No version is registered.</p>
      ) : (
        <div className="table-wrap">
          <table className="versions" data-testid="versions">
            <thead>
              <tr>
                <th>Version</th>
                <th>Semver</th>
                <th>Trained through</th>
                <th>Holdout n</th>
                <th>Log loss (market)</th>
                <th>RPS (market)</th>
                <th>Brier</th>
                <th>Promotion</th>
              </tr>
            </thead>
            <tbody>
              {versions.map((v) => (
                <tr key={v.version} className={v.version === champion ? "champion" : undefined} data-testid="version" data-version={v.version}>
                  <td>
                    <strong>{v.version}</strong>{" "}
                    {v.aliases.map((a) => (
                      <span key={a} className={`badge ${a === "champion" ? "tone-green" : "tone-grey"}`}>
                        {a}
                      </span>
                    ))}
                    {v.refit_of && <div className="muted small">refit of {v.refit_of}</div>}
                  </td>
                  <td>{v.semver ?? "—"}</td>
                  <td className="num">{v.trained_through?.slice(0, 10) ?? "—"}</td>
                  <td className="num">{v.holdout.n ?? "—"}</td>
                  <td className="num" data-testid="log-loss" data-value={v.holdout.log_loss ?? ""}>
                    <Versus model={v.holdout.log_loss} market={v.market?.log_loss ?? null} />
                  </td>
                  <td className="num">
                    <Versus model={v.holdout.rps} market={v.market?.rps ?? null} />
                  </td>
                  <td className="num">{fmt(v.holdout.brier, 3)}</td>
                  <td>
                    {v.promoted === null ? (
                      <span className="muted">not judged</span>
                    ) : (
                      <span className={`badge ${v.promoted ? "tone-green" : "tone-red"}`}>{v.promoted ? "promoted" : "rejected"}</span>
                    )}
                    {v.promotion_reason && <div className="small muted">{v.promotion_reason}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2 style={{ marginTop: "1.5rem" }}>Calibration of the champion</h2>
      {calibration === null || Object.keys(calibration.curves).length === 0 ? (
        <p className="empty" data-testid="no-calibration">
          No reliability curves were logged for the champion{champion ? ` (version ${champion})` : ""}.
        </p>
      ) : (
        <>
          <p className="muted small">
            Version {calibration.version}&apos;s holdout forecasts beside the market&apos;s, binned (a point&apos;s size: its matches): a well-calibrated forecaster lies on the dashed diagonal.
          </p>
          <div className="calibration-plots" data-testid="calibration-plots">
            {(["H", "D", "A"] as const).map((cls) => (
              <CalibrationPlot key={cls} cls={cls} curves={shownCurves(calibration.curves, current?.market?.forecaster ?? null)} />
            ))}
          </div>
        </>
      )}
      <GeneratedAt at={generatedAt} />
    </>
  );
}

function ChampionSummary({ version }: { version: RegisteredVersion }) {
  const gap = version.holdout.log_loss !== null && version.market?.log_loss != null ? version.holdout.log_loss - version.market.log_loss : null;
  return (
    <section className="card" data-testid="champion" data-version={version.version}>
      <h2>
        Champion: version {version.version} <span className="muted">({version.semver ?? "no semver"})</span>
      </h2>
      <p>
        Holdout log loss <strong>{fmt(version.holdout.log_loss, 4)}</strong> on {version.holdout.n ?? "?"} matches, against{" "}
        <strong>{fmt(version.market?.log_loss ?? null, 4)}</strong> for the market ({version.market?.forecaster ?? "none"}):{" "}
        {gap === null ? "no comparison" : gap <= 0 ? <span className="better">{Math.abs(gap).toFixed(4)} better</span> : <span className="worse">{gap.toFixed(4)} worse</span>}.
      </p>
      {version.promotion_reason && <p className="muted small">Promoted because: {version.promotion_reason}</p>}
    </section>
  );
}

function Versus({ model, market }: { model: number | null; market: number | null }) {
  if (model === null) return <>—</>;
  const cls = market === null ? undefined : model <= market ? "better" : "worse";
  return (
    <>
      <span className={cls}>{model.toFixed(4)}</span> <span className="muted">({market === null ? "—" : market.toFixed(4)})</span>
    </>
  );
}

/** The ensemble beside the market the gate compared it with (every curve when neither is there). */
function shownCurves(curves: Record<string, ReliabilityPoint[]>, market: string | null): Record<string, ReliabilityPoint[]> {
  const names = ["ensemble", market].filter((n): n is string => n !== null && n in curves);
  return names.length === 0 ? curves : Object.fromEntries(names.map((n) => [n, curves[n] ?? []]));
}

function fmt(value: number | null, digits: number): string {
  return value === null ? "—" : value.toFixed(digits);
}
