import Link from "next/link";

export default function NotFound() {
  return (
    <div className="notice" data-testid="not-found">
      <h1>Page not found</h1>
      <p>
        There is no such page. <Link href="/">See the upcoming fixtures</Link>.
      </p>
    </div>
  );
}
