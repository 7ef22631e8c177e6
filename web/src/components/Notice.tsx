import type { Failure } from "@/lib/api";

/** A failed read of the service, said so that a person knows what is wrong and what to do. */
export function FailureNotice({ failure, what }: { failure: Failure; what: string }) {
  const { title, body } = explain(failure, what);
  return (
    <div className="notice error" data-testid={`failure-${failure.kind}`} role="alert">
      <h2>{title}</h2>
      <p>{body}</p>
      <p className="muted small">The service said: {failure.detail}</p>
    </div>
  );
}

export function explain(failure: Failure, what: string): { title: string; body: string } {
  switch (failure.kind) {
    case "down":
      return {
        title: "The SabiScore service is not answering",
        body: `The ${what} come from the forecasting service, which cannot be reached right now. This page tries again on its own; if it stays down, start it with \`sabiscore serve\`.`,
      };
    case "no_model":
      return {
        title: "No champion model yet",
        body: `The service is running but has no promoted model, so there are no ${what} to show. Run the pipeline (\`sabiscore pipeline\`); the service picks up the champion by itself.`,
      };
    case "not_found":
      return { title: "Not found", body: `The service does not know these ${what}.` };
    default:
      return { title: `The ${what} could not be loaded`, body: "The service refused the request." };
  }
}
