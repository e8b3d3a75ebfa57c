"""Discord interactions in, embeds and buttons out.

``DiscordBot`` builds a discord.py client (``AutoShardedClient`` when sharding is on) with an
``app_commands.CommandTree``: ``/shop``, ``/more``, ``/cheaper``, ``/details``, ``/compare``,
``/human``, ``/reset``, ``/forget``, ``/lang``, named and described in English and Chinese.
Every command defers first (Discord drops an interaction not acknowledged within 3 s), then
the dialogue manager's replies arrive as follow-ups, ephemeral in server channels by default.
Buttons are one catch-all ``DynamicItem`` whose custom id is a payload signed by
``core.buttons``: they keep working after a restart, and a forged or foreign one gets an
ephemeral notice.  Free text in DMs goes to the dialogue too; outbox messages go to DMs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterator, Sequence
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from redis.exceptions import RedisError

from bots.discord import render
from core import metrics
from core.app import App
from core.buttons import ButtonSigner, ForgedButton, StaleButton
from core.logs import user_ref
from core.messages import Button, Inbound, Reply
from core.outbox import Outbox, OutboxMessage, Undeliverable
from core.wording import t

log = logging.getLogger(__name__)

PLATFORM = "discord"
CUSTOM_ID_PREFIX = "dg:"
AUTOCOMPLETE_CHOICES = 25
_CJK = re.compile(r"[\u3400-\u9fff]")
_NO_MENTIONS = discord.AllowedMentions.none()

# English text of every command name, option and description -> its Chinese (zh-CN) form.
ZH: dict[str, str] = {
    "shop": "导购", "Find products for what you need": "按你的需求找商品",
    "query": "需求", "What you are looking for, in your own words": "用你自己的话说想买什么",
    "max_price": "最高价", "Highest price you want to pay": "最多愿意花多少钱",
    "category": "类别", "Only this category": "只看这个类别",
    "more": "更多", "Show more results": "换一批结果",
    "cheaper": "便宜点", "Show cheaper results": "看更便宜的",
    "details": "详情", "Details of a product in the list": "列表中某个商品的详情",
    "n": "序号", "Its number in the list": "它在列表中的序号",
    "compare": "对比", "Compare two products in the list": "对比列表中的两个商品",
    "a": "第一个", "b": "第二个", "A number in the list": "列表中的序号",
    "human": "人工", "Talk to a person": "转人工客服",
    "reset": "重新开始", "Start over": "清空这次的需求",
    "forget": "删除数据", "Delete everything the shop's assistant stored about you": "删除导购保存的你的所有数据",
    "lang": "语言", "Choose the language": "选择语言", "language": "语言",
}


class Translator(app_commands.Translator):
    """Chinese names and descriptions for zh-CN (and zh-TW) clients; English otherwise."""

    async def translate(self, string: app_commands.locale_str, locale: discord.Locale,
                        context: app_commands.TranslationContextTypes) -> str | None:
        if locale in (discord.Locale.chinese, discord.Locale.taiwan_chinese):
            return ZH.get(string.message)
        return None


class SignedButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?P<data>.*)"):
    """Every button daogou sends, and anything else pressed: matching all custom ids lets
    a foreign one get a notice instead of Discord's "interaction failed"."""

    def __init__(self, data: str, label: str = "…", style: discord.ButtonStyle = discord.ButtonStyle.secondary) -> None:
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=data))
        self.data = data

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str]) -> SignedButton:
        return cls(match["data"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot: DiscordBot = interaction.client.daogou  # type: ignore[attr-defined]
        await bot.on_button(interaction, self.data)


class DiscordBot:
    def __init__(self, app: App, *, signer: ButtonSigner, outbox: Outbox, sharded: bool = False,
                 ephemeral: bool = True, guild_ready_timeout: float = 2.0) -> None:
        self.app = app
        self.signer = signer
        self.outbox = outbox
        self.ephemeral = ephemeral
        intents = discord.Intents.default()  # DMs carry their text without the privileged intent
        cls = discord.AutoShardedClient if sharded else discord.Client
        self.client = cls(intents=intents, allowed_mentions=_NO_MENTIONS, guild_ready_timeout=guild_ready_timeout)
        self.client.daogou = self  # type: ignore[attr-defined]
        self.client.add_dynamic_items(SignedButton)
        self.tree = app_commands.CommandTree(self.client)
        self.tree.on_error = self.on_error  # type: ignore[method-assign]
        self.client.event(self.on_message)
        self._categories = sorted(app.recommender.catalog.categories)
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._install()

    @contextlib.contextmanager
    def _working(self) -> Iterator[None]:
        self._busy += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle.set()

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) for the turns in flight, before a shutdown."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)

    # -- commands ------------------------------------------------------------------------

    def _install(self) -> None:
        tree = self.tree

        @tree.command(name=_("shop"), description=_("Find products for what you need"))
        @app_commands.rename(query=_("query"), max_price=_("max_price"), category=_("category"))
        @app_commands.describe(query=_("What you are looking for, in your own words"),
                               max_price=_("Highest price you want to pay"), category=_("Only this category"))
        async def shop(interaction: discord.Interaction[Any], query: app_commands.Range[str, 1, 300],
                       max_price: app_commands.Range[float, 0] | None = None, category: str | None = None) -> None:
            await self.shop(interaction, query, max_price, category)

        @shop.autocomplete("category")
        async def shop_category(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
            return self.category_choices(current, _lang(interaction))

        @tree.command(name=_("more"), description=_("Show more results"))
        async def more(interaction: discord.Interaction[Any]) -> None:
            await self.run(interaction, action="more")

        @tree.command(name=_("cheaper"), description=_("Show cheaper results"))
        async def cheaper(interaction: discord.Interaction[Any]) -> None:
            await self.run(interaction, action="cheaper")

        @tree.command(name=_("details"), description=_("Details of a product in the list"))
        @app_commands.rename(n=_("n"))
        @app_commands.describe(n=_("Its number in the list"))
        async def details(interaction: discord.Interaction[Any], n: app_commands.Range[int, 1, 10]) -> None:
            await self.run(interaction, action=f"details_at:{n}")

        @tree.command(name=_("compare"), description=_("Compare two products in the list"))
        @app_commands.rename(a=_("a"), b=_("b"))
        @app_commands.describe(a=_("A number in the list"), b=_("A number in the list"))
        async def compare(interaction: discord.Interaction[Any], a: app_commands.Range[int, 1, 10],
                          b: app_commands.Range[int, 1, 10]) -> None:
            await self.run(interaction, action=f"compare_at:{a},{b}")

        @tree.command(name=_("human"), description=_("Talk to a person"))
        async def human(interaction: discord.Interaction[Any]) -> None:
            await self.run(interaction, action="human")

        @tree.command(name=_("reset"), description=_("Start over"))
        async def reset(interaction: discord.Interaction[Any]) -> None:
            await self.run(interaction, action="reset")

        @tree.command(name=_("forget"), description=_("Delete everything the shop's assistant stored about you"))
        async def forget(interaction: discord.Interaction[Any]) -> None:
            await self.run(interaction, action="forget")

        @tree.command(name=_("lang"), description=_("Choose the language"))
        @app_commands.rename(language=_("language"))
        @app_commands.choices(language=[app_commands.Choice(name="中文", value="zh"),
                                        app_commands.Choice(name="English", value="en")])
        async def lang(interaction: discord.Interaction[Any], language: app_commands.Choice[str]) -> None:
            await self.run(interaction, action=f"lang:{language.value}")

    def category_choices(self, current: str, lang: str) -> list[app_commands.Choice[str]]:
        """Catalog categories containing what was typed (either language), at most 25, names
        and values within Discord's 100 characters."""
        catalog = self.app.recommender.catalog
        typed = current.strip().casefold()
        found = []
        for category in self._categories:
            info = catalog.categories.get(category)
            zh = info.zh if info else ""
            if typed and typed not in category.casefold() and typed not in zh:
                continue
            name = f"{zh} · {category}" if lang == "zh" and zh else category
            if len(category) <= 100:
                found.append(app_commands.Choice(name=render.cut(name, 100), value=category))
            if len(found) == AUTOCOMPLETE_CHOICES:
                break
        return found

    async def shop(self, interaction: discord.Interaction[Any], query: str, max_price: float | None,
                   category: str | None) -> None:
        lang = "zh" if _CJK.search(query) else _lang(interaction)
        words = [query]
        if category:
            if category not in self.app.recommender.catalog.categories:
                await self._defer(interaction)
                await self._send(interaction, [Reply(t("unknown_action", lang), kind="notice")])
                return
            words.append(category.split(">")[-1].strip())
        if max_price is not None:
            words.append(f"{max_price:g}元以内" if lang == "zh" else f"under {max_price:g}")
        await self.run(interaction, text=" ".join(words))

    async def run(self, interaction: discord.Interaction[Any], *, text: str = "", action: str = "") -> None:
        """Defer, let the dialogue answer, send the answer as follow-ups."""
        with self._working():
            if not await self._defer(interaction):
                return
            inbound = Inbound(PLATFORM, str(interaction.user.id), str(interaction.channel_id or ""),
                              f"i:{interaction.id}", text=text, action=action, lang=str(interaction.locale))
            outcome = await self.app.dialogue.handle(inbound)
            if outcome.replies:
                await self._send(interaction, outcome.replies)
            else:
                # Nothing to say (a message for the agent while a ticket is open, a redelivery):
                # remove the "thinking…" placeholder instead of leaving it to time out.
                with contextlib.suppress(discord.HTTPException):
                    await interaction.delete_original_response()

    async def on_button(self, interaction: discord.Interaction[Any], data: str) -> None:
        lang = _lang(interaction)
        try:
            action = await self.signer.unpack(str(interaction.user.id), data.removeprefix(CUSTOM_ID_PREFIX)) \
                if data.startswith(CUSTOM_ID_PREFIX) else None
        except StaleButton:
            await self._notice(interaction, t("button_stale", lang))
            return
        except (ForgedButton, RedisError):
            action = None
        if action is None:
            ref = user_ref(interaction.user.id, PLATFORM)
            log.warning("forged or foreign discord button from user %s ignored", ref,
                        extra={"user": ref, "platform": PLATFORM})
            await self._notice(interaction, t("button_forged", lang))
            return
        await self.run(interaction, action=action)

    async def on_message(self, message: discord.Message) -> None:
        """Free text in a DM goes to the dialogue; server messages are for slash commands."""
        if message.author.bot or message.guild is not None or not message.content:
            return
        with contextlib.suppress(RedisError):
            await self.outbox.mark_reachable(str(message.author.id))
        inbound = Inbound(PLATFORM, str(message.author.id), str(message.channel.id), f"m:{message.id}",
                          text=message.content)
        with self._working():
            async with message.channel.typing():
                outcome = await self.app.dialogue.handle(inbound)
            for out in self._rendered(outcome.replies):
                await message.channel.send(**await self._payload(message.author.id, out))

    async def on_error(self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError) -> None:
        """One place for every command's failure: a short apology to the user, details to the log."""
        log.error("discord command %s failed: %s", getattr(interaction.command, "name", "?"), error,
                  exc_info=error)
        metrics.error("handler")
        with contextlib.suppress(discord.HTTPException):
            text = t("unavailable", _lang(interaction))
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)

    # -- outgoing --------------------------------------------------------------------------

    async def deliver(self, message: OutboxMessage) -> None:
        """An outbox message, to the user's DMs; ``Undeliverable`` when Discord refuses."""
        try:
            channel = await self.client.create_dm(discord.Object(id=int(message.user_id)))
            for out in self._rendered([message.reply]):
                await channel.send(**await self._payload(int(message.user_id), out))
        except (discord.Forbidden, discord.NotFound) as exc:
            with contextlib.suppress(RedisError):
                await self.outbox.mark_unreachable(message.user_id)
            raise Undeliverable(str(exc)) from exc

    def _private(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.guild_id is not None and self.ephemeral

    async def _defer(self, interaction: discord.Interaction[Any]) -> bool:
        try:
            await interaction.response.defer(ephemeral=self._private(interaction), thinking=True)
            return True
        except discord.NotFound as exc:  # 10062: older than 3 s, or answered elsewhere
            log.warning("discord interaction %s expired before it was acknowledged: %s", interaction.id, exc)
            return False
        except discord.HTTPException as exc:
            if exc.code == 40060:  # already acknowledged: follow-ups still work
                return True
            raise

    async def _notice(self, interaction: discord.Interaction[Any], text: str) -> None:
        with contextlib.suppress(discord.NotFound):
            await interaction.response.send_message(render.escape(text), ephemeral=True,
                                                    allowed_mentions=_NO_MENTIONS)

    async def _send(self, interaction: discord.Interaction[Any], replies: Sequence[Reply]) -> None:
        private = self._private(interaction)
        for out in self._rendered(replies):
            payload = await self._payload(interaction.user.id, out)
            await interaction.followup.send(ephemeral=private, **payload)

    def _rendered(self, replies: Sequence[Reply]) -> list[render.Outgoing]:
        lang = "zh" if any(_CJK.search(r.text) for r in replies) else "en"
        return [out for reply in replies for out in render.render(reply, lang)]

    async def _payload(self, user_id: int, out: render.Outgoing) -> dict[str, Any]:
        payload: dict[str, Any] = {"allowed_mentions": _NO_MENTIONS}
        if out.content:
            payload["content"] = out.content
        if out.embeds:
            payload["embeds"] = [_embed(e) for e in out.embeds]
        view = await self._view(user_id, out.rows)
        if view is not None:
            payload["view"] = view
        return payload

    async def _view(self, user_id: int, rows: tuple[tuple[Button, ...], ...]) -> discord.ui.View | None:
        if not rows:
            return None
        view = discord.ui.View(timeout=None)
        for n, row in enumerate(rows):
            for button in row:
                if button.action.startswith("url:"):
                    view.add_item(discord.ui.Button(label=button.label, url=button.action[4:], row=n))
                    continue
                try:
                    data = CUSTOM_ID_PREFIX + await self.signer.pack(str(user_id), button.action)
                except RedisError as exc:
                    log.warning("button %r left out: %s", button.action, exc)
                    continue
                item = SignedButton(data, button.label)
                item.item.row = n
                view.add_item(item)
        # Presses reach SignedButton through the dynamic-item registry, so the view itself
        # need not be remembered: a stopped view is not kept in discord.py's view store.
        view.stop()
        return view if view.children else None


def _embed(e: render.Embed) -> discord.Embed:
    embed = discord.Embed(title=e.title, description=e.description or None, url=e.url or None,
                          colour=render.COLOUR)
    if e.price:
        embed.add_field(name="💰", value=e.price, inline=True)
    if e.brand:
        embed.add_field(name="🏷️", value=render.escape(e.brand), inline=True)
    if e.image:
        embed.set_thumbnail(url=e.image)
    if e.footer:
        embed.set_footer(text=e.footer)
    return embed


def _lang(interaction: discord.Interaction[Any]) -> str:
    return "zh" if str(interaction.locale).lower().startswith("zh") else "en"

