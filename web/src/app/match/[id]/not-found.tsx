import Link from "next/link";

export default function MatchNotFound() {
  return (
    <div className="notice" data-testid="match-not-found">
      <h1>No such match</h1>
      <p>
        The service does not know this match: it lists the upcoming fixtures of its data store and the matches whose prices were posted to it. A match is
        forgotten a few hours after its kick-off.
      </p>
      <p>
        <Link href="/">See the upcoming fixtures</Link>
      </p>
    </div>
  );
}
