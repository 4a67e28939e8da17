"""Issue 34: the page views' fast lane opens nothing the full stack refuses, and counts nothing twice. The
attacker holds the site key (it is in every page) and guesses others; the lane answers only what the route
itself would answer to the same request."""

from __future__ import annotations

from services.common.auth import FAILED_PER_MINUTE, revoke_site_key
from tests.security.conftest import ORIGIN, Site


async def test_guessed_keys_are_refused_and_counted_once_each(site: Site) -> None:
    """Every refused key counts once toward the address's refusals a minute: the lane's own check must not
    count a guess before handing it to the route, which counts it again (half the guesses, then 429)."""
    statuses = []
    for i in range(FAILED_PER_MINUTE + 2):
        r = await site.client.get("/v1/banner", params={"site_key": f"sk_guess_{i:04d}"})
        statuses.append(r.status_code)
    assert statuses[:FAILED_PER_MINUTE] == [401] * FAILED_PER_MINUTE, statuses
    assert statuses[FAILED_PER_MINUTE:] == [429, 429], statuses
    # the real key from this address is refused now too, through the lane as through the route
    assert (await site.client.get("/v1/banner", params={"site_key": site.key})).status_code == 429


async def test_a_revoked_key_or_a_foreign_origin_gets_nothing_through_the_lane(site: Site) -> None:
    assert (await site.client.get("/v1/banner", params={"site_key": site.key})).status_code == 200
    foreign = await site.client.get(
        "/v1/banner", params={"site_key": site.key}, headers={"origin": "https://evil.example"}
    )
    assert foreign.status_code == 403 and "categories" not in foreign.text
    assert "access-control-allow-origin" not in foreign.headers or foreign.headers["access-control-allow-origin"] == "*"
    own = await site.client.get("/v1/banner", params={"site_key": site.key}, headers={"origin": ORIGIN})
    assert own.status_code == 200 and own.headers["access-control-allow-origin"] == ORIGIN
    await revoke_site_key(site.rt.db, site.key)
    site.app.state.credentials._sites.clear()  # the key cache's 5 seconds are up
    revoked = await site.client.get("/v1/banner", params={"site_key": site.key}, headers={"origin": ORIGIN})
    assert revoked.status_code == 401 and "categories" not in revoked.text
