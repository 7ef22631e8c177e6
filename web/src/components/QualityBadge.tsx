import type { CalibrationStatus, Quality } from "@/lib/types";

/** The design's tier colours: PREMIUM green, VALUE blue, MARGINAL yellow, AVOID red. */
export const TIER_CLASS: Record<Quality, string> = {
  PREMIUM: "tone-green",
  VALUE: "tone-blue",
  MARGINAL: "tone-yellow",
  AVOID: "tone-red",
};

/** Calibration quality: excellent green, good blue, fair yellow, poor red. */
export const CALIBRATION_CLASS: Record<CalibrationStatus, string> = {
  excellent: "tone-green",
  good: "tone-blue",
  fair: "tone-yellow",
  poor: "tone-red",
};

export function QualityBadge({ quality }: { quality: Quality }) {
  return (
    <span className={`badge ${TIER_CLASS[quality]}`} data-testid="quality-badge" data-quality={quality}>
      {quality}
    </span>
  );
}
