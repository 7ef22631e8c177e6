"""The web site end to end (issue 16): `next start` against a real `sabiscore serve` on a
pipeline store, driven in Debian's headless Chromium by web/e2e/run.mjs (playwright-core),
which asserts every "must show" of the issue and saves screenshots of the pages.

Where Chromium, node or web/node_modules is missing the test skips with the reason, unless
SABISCORE_REQUIRE_BROWSER=1 (CI, after installing them), where it fails."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.bentos.conftest import champion_store, copy_store  # noqa: F401 - the session fixture
from tests.web import stack

pytestmark = [pytest.mark.slow, pytest.mark.server]

ARTIFACTS = Path(os.environ.get("SABISCORE_ARTIFACTS", stack.WEB / "e2e" / "artifacts"))


def _require_tools() -> None:
    reason = stack.missing()
    if reason is None:
        return
    if os.environ.get("SABISCORE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"SABISCORE_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def compiling(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, subprocess.Popen]]:
    """The site's compile, started before the store is made (they run side by side)."""
    _require_tools()
    root = tmp_path_factory.mktemp("web")
    process = stack.start_compile(root)
    yield root, process
    if process.poll() is None:
        process.terminate()
        process.wait()


@pytest.fixture(scope="module")
def site_stack(
    compiling: tuple[Path, subprocess.Popen],
    champion_store: Path,  # noqa: F811
) -> Iterator[stack.Stack]:
    root, process = compiling
    store = copy_store(champion_store, root / "store")
    with stack.running_stack(store, root, process) as running:
        yield running


def test_the_site_end_to_end_in_a_real_browser(site_stack: stack.Stack) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["node", "e2e/run.mjs"],
        cwd=stack.WEB,
        env=site_stack.node_env(ARTIFACTS),
        capture_output=True,
        text=True,
        timeout=240,
    )
    print(done.stdout)
    assert done.returncode == 0, (
        done.stdout[-6000:] + done.stderr[-3000:] + site_stack.site.log.read_text()[-2000:]
    )
    steps = json.loads(done.stdout.strip().splitlines()[-1])["e2e"]
    assert len(steps) == 12 and all(s["ok"] for s in steps), steps
    for name in ("home", "match", "models", "match-paused"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000, name


def test_the_site_refuses_to_start_in_production_without_a_real_secret(
    site_stack: stack.Stack, tmp_path: Path
) -> None:
    for secret in (None, "dev-secret-token", "short-secret"):
        env = site_stack.site.env()
        env.pop("REVALIDATE_SECRET")
        for name in ("SABISCORE_ENV", "APP_ENV"):
            env.pop(name, None)
        if secret:
            env["REVALIDATE_SECRET"] = secret
        port = stack.live.free_port()
        done = subprocess.run(
            stack.next_command("start", "-p", str(port), "-H", "127.0.0.1"),
            cwd=stack.WEB,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1, (secret, done.stdout[-2000:])
        assert "refusing to start in production: REVALIDATE_SECRET" in done.stdout + done.stderr


def test_sentry_receives_the_sites_server_errors_when_a_dsn_is_set(
    site_stack: stack.Stack, tmp_path: Path
) -> None:
    """A match page that cannot be rendered (the service is down) is reported to Sentry, here a
    local recorder, without the revalidation secret; no DSN, no report (the other tests)."""
    with stack.recording_sentry() as sentry:
        dsn = sentry.dsn
        down = f"http://127.0.0.1:{stack.live.free_port()}"  # nothing listens there
        site = stack.Site(
            stack.live.free_port(),
            down,
            tmp_path / "site.log",
            extra_env={"NEXT_PUBLIC_SENTRY_DSN": dsn},
        )
        site.start()
        try:
            page = httpx.get(f"{site.url}/match/sy1-20270116-never-rendered", timeout=30)
            assert page.status_code == 500, page.text[-2000:]
            deadline = time.monotonic() + 15
            while not any(
                "ServiceUnavailable" in e or "ECONNREFUSED" in e for e in sentry.envelopes
            ):
                assert time.monotonic() < deadline, sentry.envelopes
                time.sleep(0.2)
            assert not any(stack.SECRET in e for e in sentry.envelopes)
        finally:
            site.stop()
