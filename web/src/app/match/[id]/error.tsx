"use client";

import Link from "next/link";

/** A match page the service could not give (down, or no model yet) when none was kept. */
export default function MatchError({ reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div className="notice error" data-testid="match-error" role="alert">
      <h1>This match can&apos;t be shown right now</h1>
      <p>
        The forecasting service is not answering, or it has no champion model loaded yet, so there is no forecast to show. Once it is back the page fills in by
        itself.
      </p>
      <p>
        <button type="button" className="button" onClick={() => reset()}>
          Try again
        </button>{" "}
        <Link href="/">Upcoming fixtures</Link>
      </p>
    </div>
  );
}
