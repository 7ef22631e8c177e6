"use client";

import { useEffect, useState } from "react";
import { parseBankroll } from "./bets";

export const BANKROLL_KEY = "sabiscore.bankroll";

/** The user's bankroll, kept in this browser (localStorage) across pages and visits. */
export function useBankroll(): { text: string; bankroll: number | null; setText: (text: string) => void } {
  const [text, setTextState] = useState("");

  useEffect(() => {
    try {
      setTextState(window.localStorage.getItem(BANKROLL_KEY) ?? "");
    } catch {
      // storage blocked: the bankroll lives for this page only
    }
  }, []);

  const setText = (value: string) => {
    setTextState(value);
    try {
      if (value.trim()) window.localStorage.setItem(BANKROLL_KEY, value.trim());
      else window.localStorage.removeItem(BANKROLL_KEY);
    } catch {
      // as above
    }
  };

  return { text, bankroll: parseBankroll(text), setText };
}
