import { FixtureList, type FixtureRow } from "@/components/FixtureList";
import { GeneratedAt } from "@/components/GeneratedAt";
import { FailureNotice } from "@/components/Notice";
import { getFixtures } from "@/lib/api";
import { bestBet } from "@/lib/bets";

/** Static, regenerated on demand (`/api/revalidate`, which every match's revalidation also
 * calls for "/"), and at most a minute old otherwise: a state rendered while the service was
 * down does not stay. */
export const revalidate = 60;

export default async function Home() {
  const answer = await getFixtures();
  const generatedAt = new Date().toISOString();
  if (!answer.ok) {
    return (
      <>
        <h1>Upcoming fixtures</h1>
        <FailureNotice failure={answer.failure} what="fixtures and their forecasts" />
        <GeneratedAt at={generatedAt} />
      </>
    );
  }
  const { fixtures, skipped } = answer.value;
  const rows: FixtureRow[] = [...fixtures]
    .sort((a, b) => a.league.localeCompare(b.league) || (a.kickoff ?? "9").localeCompare(b.kickoff ?? "9"))
    .map((f) => ({
      match_id: f.match_id,
      league: f.league,
      kickoff: f.kickoff,
      home_team: f.home_team,
      away_team: f.away_team,
      home_win_probability: f.home_win_probability,
      draw_probability: f.draw_probability,
      away_win_probability: f.away_win_probability,
      priced: f.edge !== null,
      best: bestBet(f.match_id, f.edge),
    }));

  return (
    <>
      <h1>Upcoming fixtures</h1>
      <p className="muted">
        The model&apos;s home / draw / away forecast of every fixture the service knows, and its best value bet at the current prices. Model version{" "}
        <strong data-testid="model-version">{answer.value.model_version}</strong> ({answer.value.model_semver}), trained through {answer.value.trained_through?.slice(0, 10) ?? "—"}.
      </p>
      {rows.length === 0 ? (
        <p className="empty" data-testid="no-fixtures">
          No upcoming fixtures. Ingest a fixtures file or run the odds refresh (<code>sabiscore odds-refresh</code>) and they appear here.
        </p>
      ) : (
        <FixtureList rows={rows} />
      )}
      {skipped.length > 0 && (
        <section className="notice" data-testid="skipped">
          <h2>Not priced</h2>
          <ul>
            {skipped.map((s) => (
              <li key={s.match_id}>
                {s.home_team} v {s.away_team} ({s.league}): {s.reason}
              </li>
            ))}
          </ul>
        </section>
      )}
      <GeneratedAt at={generatedAt} />
    </>
  );
}
