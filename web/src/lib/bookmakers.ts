/**
 * The site each bookmaker's "Place bet" opens, by the service's book names (football-data's
 * codes read as names: sabiscore/football_data.py BOOKMAKERS). A book not listed has no
 * button: a guessed address could send a bettor to a look-alike site.
 */
const SITES: Record<string, string> = {
  bet365: "https://www.bet365.com/",
  pinnacle: "https://www.pinnacle.com/",
  bwin: "https://sports.bwin.com/",
  interwetten: "https://www.interwetten.com/",
  ladbrokes: "https://sports.ladbrokes.com/",
  william_hill: "https://sports.williamhill.com/",
  bet_victor: "https://www.betvictor.com/",
  betvictor: "https://www.betvictor.com/",
  betfair: "https://www.betfair.com/sport/football",
  betfair_exchange: "https://www.betfair.com/exchange/plus/football",
  betfred: "https://www.betfred.com/sport",
  "1xbet": "https://1xbet.com/",
  betmgm: "https://www.betmgm.co.uk/",
  coral: "https://sports.coral.co.uk/",
  matchbook: "https://www.matchbook.com/",
};

export function bookmakerUrl(bookmaker: string): string | null {
  return SITES[bookmaker.toLowerCase()] ?? null;
}

const NAMES: Record<string, string> = {
  bet365: "Bet365",
  pinnacle: "Pinnacle",
  william_hill: "William Hill",
  bet_victor: "BetVictor",
  betvictor: "BetVictor",
  betfair_exchange: "Betfair Exchange",
  market_avg: "market average",
  market_max: "market best",
};

export function bookmakerName(bookmaker: string): string {
  return NAMES[bookmaker] ?? bookmaker.replace(/_/g, " ").replace(/^\w/, (c) => c.toUpperCase());
}
