import { clockText } from "@/lib/bets";

/** When this HTML was rendered (at build, first request or revalidation): what ISR keeps. */
export function GeneratedAt({ at }: { at: string }) {
  const day = at.slice(0, 10);
  return (
    <p className="generated muted small" data-testid="generated-at" data-value={at}>
      Page generated {day} {clockText(at)} UTC
    </p>
  );
}
