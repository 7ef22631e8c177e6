import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { cache } from "react";
import { GeneratedAt } from "@/components/GeneratedAt";
import { LiveMatch } from "@/components/LiveMatch";
import { getMatch } from "@/lib/api";
import { kickoffText } from "@/lib/bets";
import { wsBaseUrl } from "@/lib/env";
import { MATCH_ID } from "@/lib/revalidate";

/** ISR: each match page is rendered on its first request and kept until the service's
 * revalidation (`POST /api/revalidate` after each new price) regenerates it. */
export const revalidate = false;
export const dynamicParams = true;
export function generateStaticParams(): { id: string }[] {
  return [];
}

/** A service that cannot answer: thrown, so that ISR keeps serving the last good page. */
class ServiceUnavailable extends Error {}

const load = cache(async (id: string) => {
  if (!MATCH_ID.test(id)) notFound();
  const answer = await getMatch(id);
  if (answer.ok) return answer.value;
  if (answer.failure.kind === "not_found") notFound();
  throw new ServiceUnavailable(`${answer.failure.kind}: ${answer.failure.detail}`);
});

type Params = { params: Promise<{ id: string }> };

export async function generateMetadata({ params }: Params): Promise<Metadata> {
  const update = await load((await params).id);
  return { title: `${update.prediction.home_team} v ${update.prediction.away_team}` };
}

export default async function MatchPage({ params }: Params) {
  const update = await load((await params).id);
  const { prediction } = update;
  const generatedAt = new Date().toISOString();

  return (
    <>
      <div className="match-head page-head">
        <div>
          <div className="muted small">{prediction.league}</div>
          <h1 className="teams" data-testid="teams">
            {prediction.home_team}
            <span className="vs">v</span>
            {prediction.away_team}
          </h1>
          <div className="muted" data-testid="kickoff" data-value={prediction.kickoff ?? ""}>
            {prediction.kickoff ? `Kick-off ${kickoffText(prediction.kickoff)}` : "Kick-off not known"}
          </div>
        </div>
      </div>
      <LiveMatch initial={update} wsBase={wsBaseUrl()} />
      <GeneratedAt at={generatedAt} />
    </>
  );
}
