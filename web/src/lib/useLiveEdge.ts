"use client";

import { useEffect, useRef, useState } from "react";
import type { EdgeUpdate } from "./types";

export type LiveStatus = "connecting" | "live" | "paused";

export interface LiveEdge {
  update: EdgeUpdate;
  status: LiveStatus;
  /** Why updates are paused (the socket dropped, the match is unknown to the service, ...). */
  reason: string | null;
  /** When the next attempt is due (ms since the epoch), while paused. */
  retryAt: number | null;
  /** Edge messages received since the page loaded. */
  pushes: number;
}

/** Backoff of the reconnects: 0.5 s, 1 s, 2 s ... at most `maxDelayMs`, with ±20 % jitter. */
export function backoffDelay(attempt: number, baseMs = 500, maxDelayMs = 8000, random: () => number = Math.random): number {
  const delay = Math.min(maxDelayMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(delay * (0.8 + 0.4 * random()));
}

/** The service's heartbeat comes every 15 s of silence: three missed, the socket is dead. */
const SILENCE_MS = 45_000;

const CLOSE_REASONS: Record<number, string> = {
  4404: "the service does not know this match (any more)",
  4401: "the service wants a token for live updates",
  4403: "the service refused the token",
  1013: "the service has no model loaded",
};

/**
 * The match's live edge: the page's state first, then every `EdgeUpdate` the service pushes on
 * `WS {wsBase}/ws/edge/{matchId}`. A dropped socket is retried with backoff; meanwhile the last
 * state stays on the page, marked paused.
 */
export function useLiveEdge(initial: EdgeUpdate, wsBase: string): LiveEdge {
  const [state, setState] = useState<LiveEdge>({ update: initial, status: "connecting", reason: null, retryAt: null, pushes: 0 });
  const attempt = useRef(0);

  useEffect(() => {
    let socket: WebSocket | null = null;
    let retry: number | undefined;
    let silence: number | undefined;
    let stopped = false;
    const url = `${wsBase}/ws/edge/${encodeURIComponent(initial.match_id)}`;

    const watchSilence = () => {
      window.clearTimeout(silence);
      silence = window.setTimeout(() => socket?.close(), SILENCE_MS);
    };

    const connect = () => {
      if (stopped) return;
      setState((s) => ({ ...s, status: s.status === "paused" ? "paused" : "connecting", retryAt: null }));
      try {
        socket = new WebSocket(url);
      } catch (error) {
        schedule(`cannot open ${url}: ${String(error)}`);
        return;
      }
      socket.onopen = () => {
        attempt.current = 0;
        watchSilence();
        setState((s) => ({ ...s, status: "live", reason: null, retryAt: null }));
      };
      socket.onmessage = (event) => {
        watchSilence();
        let message: { type?: string };
        try {
          message = JSON.parse(String(event.data));
        } catch {
          return;
        }
        if (message.type === "edge") {
          const update = message as EdgeUpdate;
          setState((s) => ({ ...s, update, status: "live", reason: null, pushes: s.pushes + 1 }));
        }
      };
      socket.onclose = (event) => {
        window.clearTimeout(silence);
        socket = null;
        if (!stopped) schedule(CLOSE_REASONS[event.code] ?? "the connection to the service dropped");
      };
    };

    const schedule = (reason: string) => {
      const delay = backoffDelay(attempt.current++);
      setState((s) => ({ ...s, status: "paused", reason, retryAt: Date.now() + delay }));
      retry = window.setTimeout(connect, delay);
    };

    connect();
    return () => {
      stopped = true;
      window.clearTimeout(retry);
      window.clearTimeout(silence);
      socket?.close();
    };
  }, [initial.match_id, wsBase]);

  return state;
}
