"""The agent console in a real headless Chromium: sign in, watch the queue update live, claim,
reply (the answer reaches the customer's outbox), resolve.

Needs Debian's ``chromium`` at /usr/bin/chromium (``playwright install`` cannot download here).
``DAOGOU_SCREENSHOT=1`` also saves the ticket page to docs/console.png for the README.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from bots.console.auth import hash_token
from bots.console.run import start
from bots.console.web import build_console
from core.app import App
from core.outbox import Outbox
from core.settings import Settings

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "console.png"

pytestmark = pytest.mark.slow


async def test_an_agent_works_a_ticket_in_a_real_browser(app: App, settings: Settings, chat) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium); playwright cannot download one here")
    from argon2 import PasswordHasher
    from playwright.async_api import async_playwright, expect

    password = "li-browser-pass"
    console_settings = replace(
        settings, console_secret="browser-test-secret",
        agents=f"li:{PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password)}",
        agent_tokens=f"wang:{hash_token('unused-token')}",
    )
    # The customer talks to the bot, then asks for a person: the ticket carries what the bot learned.
    await chat.say("我想买蓝牙耳机，500元以内")
    await chat.say("转人工")
    first = await app.tickets.open_ticket_of(chat.platform, chat.user)
    assert first is not None

    runner, port = await start(build_console(console_settings, redis=app.redis, tickets=app.tickets,
                                             desk=app.agents), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{port}"
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 820}, locale="zh-CN")
                await page.goto(base + "/")
                assert page.url == base + "/login"
                await page.fill("input[name=name]", "li")
                await page.fill("input[name=password]", password)
                await page.click("button[type=submit]")
                await page.wait_for_url(base + "/")
                await expect(page.locator(f'tr[data-id="{first.id}"]')).to_be_visible()
                await expect(page.locator("#live.on")).to_be_attached(timeout=10_000)  # the event stream is open

                # A second customer asks for a person: the row appears without a reload.
                await page.evaluate("window.__notReloaded = true")
                second, _ = await app.tickets.open(platform="telegram", user_id="bob", reason="complaint",
                                                   queue="complaints", priority=1, lang="en")
                await expect(page.locator(f'tr[data-id="{second.id}"]')).to_be_visible(timeout=10_000)
                assert await page.evaluate("window.__notReloaded === true")
                assert await page.locator("#pending-count").inner_text() == "2"
                # Higher priority first.
                assert await page.locator("tr.ticket").first.get_attribute("data-id") == second.id

                await page.click(f'tr[data-id="{first.id}"] a')
                await page.wait_for_url(f"{base}/tickets/{first.id}")
                await expect(page.locator(".summary")).to_contain_text("500")
                await page.click("#claim")
                await expect(page.locator(".state")).to_have_text("assigned")

                await page.locator("button.canned-reply").nth(1).click()  # fills the box; the agent edits it
                await expect(page.locator("textarea[name=text]")).to_have_value("请稍等，我帮您查一下。")
                await page.fill("textarea[name=text]", "您好，QCY T13 有货，今天下单明天到。")
                await page.click("#send")
                await expect(page.locator("#messages")).to_contain_text("QCY T13 有货")

                outbox = Outbox(app.redis, settings, chat.platform)
                sent = [json.loads(f[b"reply"])["text"] for _, f in await app.redis.xrange(outbox.stream)]
                assert any("QCY T13 有货，今天下单明天到。" in text for text in sent)
                assert await outbox.pending_count() == len(sent) == 2  # "an agent joined", then the answer

                # The customer writes back: it shows up live on the ticket page.
                await page.evaluate("window.__notReloaded = true")
                await chat.say("有黑色的吗？")
                await expect(page.locator("#messages")).to_contain_text("有黑色的吗", timeout=10_000)
                assert await page.evaluate("window.__notReloaded === true")

                if os.environ.get("DAOGOU_SCREENSHOT") == "1":
                    SCREENSHOT.parent.mkdir(exist_ok=True)
                    await page.screenshot(path=str(SCREENSHOT), full_page=True)

                await page.fill("input[name=note]", "answered")
                await page.click("#resolve")
                await page.wait_for_url(base + "/")
                await expect(page.locator(f'tr[data-id="{first.id}"]')).to_have_count(0)
                await expect(page.locator(f'tr[data-id="{second.id}"]')).to_be_visible()
                assert (await app.tickets.get(first.id)).state == "resolved"
            finally:
                await browser.close()
    finally:
        await runner.cleanup()
