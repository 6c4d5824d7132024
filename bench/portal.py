"""Benchmark: the citizen portal on a 2G phone, and under 200 citizens at once.

1. Each portal page, loaded cold in Debian's Chromium through a link-shaping
   proxy (600 ms round trip per request, 64 kbit/s shared downlink): time to
   first contentful paint, requests, and bytes on the wire.
2. 200 concurrent citizens against one ``beatsync-server serve --demo``
   process on loopback, each from its own loopback address (as 200 phones
   would be; the per-address limit stays on): each files a complaint and
   books a slot with the Kotwali SHO, all aiming at the same few slots, and
   picks another free one on 409. Prints submissions/s, p50/p99 latency of
   a submission, errors, and double bookings (tickets sharing a slot's
   document, or a slot document with conflicts), which must both be 0.

    python bench/portal.py                 # both parts
    python bench/portal.py --citizens 50   # a smaller crowd
    python bench/portal.py --no-pages      # part 2 only
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.common import serve_gateway
from bench.counting_proxy import CountingProxy
from server.config import GatewayConfig
from server.gateway.app import open_state
from server.policy import admin
from server.portal.demo import provision_demo_portal
from server.portal.tickets import find_ticket
from server.state.stations import SQLiteStationStores

ROUND_TRIP_S = 0.6
BANDWIDTH_BPS = 64_000
PAGES = [
    "/portal/",
    "/portal/complaint",
    "/portal/appointment",
    "/portal/appointment/slots?officer=sho-kotwali",
    "/portal/certificate",
    "/portal/visit",
    "/portal/status",
    "/portal/verify",
]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SLOT = re.compile(r'<option value="(\d{4}-[^"]+)"')
NUMBER = re.compile(r'id="number">([^<]+)<')
# Chromium records the paint after "load" on a page with no script: wait for it.
FIRST_PAINT = """new Promise(done => {
  new PerformanceObserver(list => done(list.getEntries()[0].startTime))
    .observe({type: "paint", buffered: true});
  setTimeout(() => done(null), 10000);
})"""
# Citizens aim at the first 50 free slots (the soonest), so bookings race often.
CONTESTED_SLOTS = 50


async def provision(data_dir: Path) -> None:
    state = await open_state(GatewayConfig(data_dir=data_dir))
    try:
        await admin.provision_demo(state)
        await provision_demo_portal(state, data_dir)
    finally:
        await state.close()


# -- part 1: pages on a 2G link -------------------------------------------------------


async def page_loads(url: str) -> None:
    from playwright.async_api import async_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, PHONE

    proxy = CountingProxy(url, round_trip=ROUND_TRIP_S, bandwidth_bps=BANDWIDTH_BPS)
    base = await proxy.start()
    print(f"pages through {ROUND_TRIP_S * 1000:.0f} ms RTT, {BANDWIDTH_BPS / 1000:.0f} kbit/s:")
    print(f"{'page':48} {'first paint ms':>15} {'requests':>9} {'KB on wire':>11}")
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            try:
                for path in PAGES:
                    context = await browser.new_context(viewport=PHONE, locale="hi-IN")
                    page = await context.new_page()
                    proxy.reset()
                    await page.goto(base + path, wait_until="load", timeout=120_000)
                    paint = await page.evaluate(FIRST_PAINT)
                    seen = proxy.reset()
                    print(
                        f"{path:48} {paint or float('nan'):>15.0f} {seen.requests:>9}"
                        f" {seen.bytes_down / 1024:>11.1f}"
                    )
                    await context.close()
            finally:
                await browser.close()
    finally:
        await proxy.stop()


# -- part 2: a crowd ------------------------------------------------------------------


@dataclass
class Crowd:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    bookings: list[str] = field(default_factory=list)
    complaints: int = 0
    conflicts: int = 0  # 409s answered by picking another slot


async def _post(
    http: aiohttp.ClientSession, url: str, data: dict[str, str], crowd: Crowd
) -> tuple[int, str]:
    started = time.perf_counter()
    async with http.post(url, data=data) as answer:
        text = await answer.text()
    crowd.latencies.append(time.perf_counter() - started)
    return answer.status, text


async def citizen(n: int, url: str, crowd: Crowd, start: asyncio.Event) -> None:
    phone = f"9{n:09d}"
    connector = aiohttp.TCPConnector(local_addr=(f"127.0.{n // 250}.{n % 250 + 2}", 0))
    # unsafe: the jar keeps cookies of an IP address (the CSRF cookie of 127.0.0.1).
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=jar) as http:
        try:
            async with http.get(f"{url}/portal/complaint") as page:
                token = CSRF.search(await page.text())
            assert token, "no CSRF field"
            await start.wait()
            complaint = {
                "csrf_token": token.group(1),
                "category": "theft",
                "place": "Chowk Bazaar",
                "time": "2026-01-02T21:15",
                "description": f"Bench complaint {n}",
                "locality": "Chowk Bazaar",
                "name": f"Citizen {n}",
                "phone": phone,
                "address": "1 Bench Road",
            }
            status, _ = await _post(http, f"{url}/portal/complaint", complaint, crowd)
            if status != 201:
                crowd.errors.append(f"complaint {status}")
                return
            crowd.complaints += 1
            slots_url = f"{url}/portal/appointment/slots?officer=sho-kotwali"
            for _attempt in range(20):
                async with http.get(slots_url) as page:
                    free = SLOT.findall(await page.text())
                if not free:
                    crowd.errors.append("no free slot left")
                    return
                booking = {
                    "csrf_token": token.group(1),
                    "slot": random.choice(free[:CONTESTED_SLOTS]),
                    "name": f"Citizen {n}",
                    "phone": phone,
                    "purpose": "Bench meeting",
                }
                status, text = await _post(http, slots_url, booking, crowd)
                if status == 201:
                    found = NUMBER.search(text)
                    assert found
                    crowd.bookings.append(found.group(1))
                    return
                if status not in (409, 422):  # taken meanwhile: choose again
                    crowd.errors.append(f"booking {status}")
                    return
                crowd.conflicts += 1
            crowd.errors.append("no slot after 20 tries")
        except (aiohttp.ClientError, AssertionError) as exc:
            crowd.errors.append(f"{type(exc).__name__}: {exc}")


async def double_bookings(data_dir: Path, numbers: list[str]) -> int:
    state = await open_state(GatewayConfig(data_dir=data_dir))
    stores = SQLiteStationStores(data_dir / "stations")
    try:
        docs = []
        for number in numbers:
            ticket = await find_ticket(state, number)
            assert ticket is not None
            docs.append(ticket.doc_id)
        store = await stores.get("kotwali")
        conflicted = 0
        for doc_id in set(docs):
            if (await store.get(doc_id, conflicts=True)).get("_conflicts"):
                conflicted += 1
        return len(docs) - len(set(docs)) + conflicted
    finally:
        await stores.close()
        await state.close()


async def crowd_run(data_dir: Path, url: str, citizens: int) -> Crowd:
    crowd, start = Crowd(), asyncio.Event()
    tasks = [asyncio.create_task(citizen(n, url, crowd, start)) for n in range(citizens)]
    await asyncio.sleep(1)  # every citizen has its form open
    started = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    ms = sorted(x * 1000 for x in crowd.latencies)
    submissions = crowd.complaints + len(crowd.bookings)
    print(f"\n{citizens} concurrent citizens, one gateway (complaint + booking each):")
    print(
        f"  submissions {submissions} in {elapsed:.1f} s = {submissions / elapsed:.1f}/s"
        f" (complaints {crowd.complaints}, bookings {len(crowd.bookings)},"
        f" 409s re-chosen {crowd.conflicts})"
    )
    print(
        f"  latency of a submission p50 {statistics.median(ms):.0f} ms,"
        f" p99 {ms[int(len(ms) * 0.99) - 1]:.0f} ms"
    )
    print(f"  errors {len(crowd.errors)} {sorted(set(crowd.errors))[:5]}")
    return crowd


async def main(citizens: int, pages: bool) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-portal-"))
    try:
        await provision(data_dir)
        async with serve_gateway(data_dir) as url:
            if pages:
                await page_loads(url)
            crowd = await crowd_run(data_dir, url, citizens)
        print(f"  double bookings {await double_bookings(data_dir, crowd.bookings)}")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("--no-pages", dest="pages", action="store_false")
    args = parser.parse_args()
    asyncio.run(main(args.citizens, args.pages))
