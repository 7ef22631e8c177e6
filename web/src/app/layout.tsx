import type { Metadata } from "next";
import Link from "next/link";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "SabiScore", template: "%s · SabiScore" },
  description: "Football 1X2 forecasts and value bets from SabiScore's champion model.",
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body>
        <header className="site-header">
          <Link href="/" className="brand">
            Sabi<span>Score</span>
          </Link>
          <nav>
            <Link href="/">Fixtures</Link>
            <Link href="/models">Models</Link>
          </nav>
        </header>
        <main className="site-main">{children}</main>
        <footer className="site-footer muted small">
          Forecasts are probabilities, not promises. Stakes are fractional Kelly, capped per match. Bet only what you can afford to lose.
        </footer>
      </body>
    </html>
  );
}
