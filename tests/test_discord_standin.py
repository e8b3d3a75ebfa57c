"""The Discord stand-in, proven against the real discord.py (no daogou code): login, gateway, slash
commands, autocomplete, components with a DynamicItem, command sync, 429/500 handling, clean close."""

from __future__ import annotations

import asyncio
import re
import time
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import pytest
import yarl

with warnings.catch_warnings():  # discord.player imports audioop, deprecated since Python 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord
    from discord import app_commands

from tests.discord_standin import DiscordStandIn

GUILD = 1234567890123456789
USER = 555000000000000001


class Buy(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"buy:(?P<sku>[a-z0-9-]+)"):
    pressed: ClassVar[list[tuple[str, int]]] = []

    def __init__(self, sku: str) -> None:
        super().__init__(discord.ui.Button(label="Buy", style=discord.ButtonStyle.primary, custom_id=f"buy:{sku}"))
        self.sku = sku

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str]) -> Buy:
        return cls(match["sku"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        Buy.pressed.append((self.sku, interaction.user.id))
        await interaction.response.edit_message(content=f"bought {self.sku}", view=None)


class Translator(app_commands.Translator):
    async def translate(self, string: app_commands.locale_str, locale: discord.Locale,
                        context: app_commands.TranslationContext[Any, Any]) -> str | None:
        return {"ping": "乒", "Check the bot": "检查"}.get(string.message) if locale is discord.Locale.chinese else None


def make_client(*, sharded: bool = False) -> tuple[discord.Client, app_commands.CommandTree[Any], dict[str, Any]]:
    intents = discord.Intents.default()
    intents.message_content = True
    cls = discord.AutoShardedClient if sharded else discord.Client
    client = cls(intents=intents, guild_ready_timeout=0.05)
    tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)
    seen: dict[str, Any] = {"errors": [], "dms": [], "ready": asyncio.Event()}

    @tree.command(name="ping", description="Check the bot")
    async def ping(interaction: discord.Interaction[Any], private: bool = False) -> None:
        await interaction.response.defer(ephemeral=private)
        view = discord.ui.View(timeout=None)
        view.add_item(Buy("sku-1"))
        seen["followup"] = await interaction.followup.send(
            "pong", embed=discord.Embed(title="Pong", description=f"in {interaction.channel_id}"), view=view, wait=True)

    @tree.command(name="find", description="Find a product")
    async def find(interaction: discord.Interaction[Any], query: str, budget: int = 0) -> None:
        await interaction.response.send_message(f"looking for {query} under {budget}")

    @tree.command(name="later", description="Answer by editing the thinking message")
    async def later(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content="done")
        seen["original"] = await interaction.original_response()

    @find.autocomplete("query")
    async def find_complete(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=f"{current} phone", value=f"{current}-phone")]

    @tree.error
    async def on_error(interaction: discord.Interaction[Any], error: app_commands.AppCommandError) -> None:
        seen["errors"].append(error)

    async def setup_hook() -> None:
        client.add_dynamic_items(Buy)

    async def on_ready() -> None:
        seen["ready"].set()

    async def on_message(message: discord.Message) -> None:
        if message.author != client.user and message.guild is None:
            seen["dms"].append(message.content)

    client.setup_hook = setup_hook  # type: ignore[method-assign]
    client.event(on_ready)
    client.event(on_message)
    return client, tree, seen


@pytest.fixture
async def api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiscordStandIn]:
    async with DiscordStandIn() as standin:
        standin.add_guild(GUILD, "Shop")
        monkeypatch.setattr(discord.http.Route, "BASE", standin.api_url)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(standin.gateway_url))
        yield standin


Running = tuple[discord.Client, app_commands.CommandTree[Any], dict[str, Any]]


@pytest.fixture
async def bot(api: DiscordStandIn) -> AsyncIterator[Running]:
    async with running(api) as r:
        yield r


class running:
    """Logs a client in against the stand-in and runs it until the block ends."""

    def __init__(self, api: DiscordStandIn, **kwargs: Any) -> None:
        self.api, self.client, self.tree, self.seen = api, *make_client(**kwargs)

    async def __aenter__(self) -> Running:
        await self.client.login("test-token")
        self.task = asyncio.create_task(self.client.connect())
        await self.api.wait_ready()
        await asyncio.wait_for(self.seen["ready"].wait(), 5)
        return self.client, self.tree, self.seen

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()
        await asyncio.wait_for(self.task, 5)


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
    return result


async def test_login_ready_and_guild_cache(api: DiscordStandIn, bot: Running) -> None:
    client, _, _ = bot
    assert client.user is not None and client.user.id == api.bot_id and client.user.bot
    assert client.application_id == api.application_id
    guild = client.get_guild(GUILD)
    assert guild is not None and guild.name == "Shop" and guild.me is not None
    assert guild.default_role.id == GUILD and [c.id for c in guild.text_channels] == [GUILD + 1]
    assert [c.method + " " + c.path for c in api.calls] == ["GET /api/v10/users/@me",
                                                            "GET /api/v10/oauth2/applications/@me"]
    assert api.identifies[0]["token"] == "test-token" and api.identifies[0]["intents"] & (1 << 15)
    assert client.latency < 5  # heartbeats were acknowledged
    late = api.add_guild(GUILD * 2 % (1 << 62), "Second shop")
    await eventually(lambda: client.get_guild(int(late["id"])))


@pytest.mark.parametrize("guild_id", [GUILD, None], ids=["guild", "dm"])
async def test_ping_defers_then_follows_up_with_embed_and_button(
        api: DiscordStandIn, bot: Running, guild_id: int | None) -> None:
    _, _, seen = bot
    ix = await api.slash("ping", user_id=USER, guild_id=guild_id)
    await api.wait_for("POST", r"/webhooks/", predicate=lambda c: ix["token"] in c.path)
    callback, followup = api.responses(ix)
    assert callback.path == f"/api/v10/interactions/{ix['id']}/{ix['token']}/callback"
    assert callback.json == {"type": 5} and callback.status == 200  # discord.py always asks with_response
    assert followup.json["content"] == "pong" and followup.json["embeds"][0]["title"] == "Pong"
    button = followup.json["components"][0]["components"][0]
    assert button["custom_id"] == "buy:sku-1" and button["type"] == 2
    msg = api.messages[-1]
    assert msg["content"] == "pong" and msg["flags"] == 0 and msg["channel_id"] == ix["channel_id"]
    assert ("guild_id" in msg) == (guild_id is not None)
    sent = seen["followup"]
    assert isinstance(sent, discord.WebhookMessage) and sent.id == int(msg["id"]) and sent.embeds[0].title == "Pong"
    assert (ix["guild_id"] if guild_id else ix["user"]["id"]) and ix["channel"]["type"] == (0 if guild_id else 1)


async def test_private_ping_is_ephemeral_and_double_ack_is_refused(api: DiscordStandIn, bot: Running) -> None:
    ix = await api.slash("ping", {"private": True}, user_id=USER, guild_id=GUILD)
    await api.wait_for("POST", r"/webhooks/", predicate=lambda c: ix["token"] in c.path)
    assert api.responses(ix)[0].json == {"type": 5, "data": {"flags": 64}}
    assert api.messages[-1]["flags"] == 64  # the followup replaced the ephemeral "thinking" message
    again = await bot[0].http._HTTPClient__session.post(  # type: ignore[attr-defined]
        f"{api.api_url}/interactions/{ix['id']}/{ix['token']}/callback", json={"type": 4, "data": {"content": "x"}})
    assert again.status == 400 and (await again.json())["code"] == 40060
    again.release()


async def test_slash_with_options_and_unknown_command(api: DiscordStandIn, bot: Running) -> None:
    ix = await api.slash("find", {"query": "phone", "budget": 3000}, user_id=USER, guild_id=GUILD)
    (call,) = await api.wait_for("POST", ix["token"])
    assert call.json["type"] == 4 and call.json["data"]["content"] == "looking for phone under 3000"
    assert api.messages[-1]["type"] == 20 and api.messages[-1]["interaction_metadata"]["id"] == ix["id"]
    await api.slash("nope", user_id=USER)
    await eventually(lambda: bot[2]["errors"])
    assert isinstance(bot[2]["errors"][0], app_commands.CommandNotFound)


async def test_autocomplete_gets_a_type_8_result(api: DiscordStandIn, bot: Running) -> None:
    ix = await api.autocomplete("find", {"query": "pho", "budget": 10}, "query", user_id=USER, guild_id=GUILD)
    (call,) = await api.wait_for("POST", ix["token"])
    assert ix["type"] == 4 and ix["data"]["options"][0]["focused"] is True
    assert call.json == {"type": 8, "data": {"choices": [{"name": "pho phone", "value": "pho-phone"}]}}


async def test_button_press_reaches_the_dynamic_item(api: DiscordStandIn, bot: Running) -> None:
    Buy.pressed.clear()
    ix = await api.slash("ping", user_id=USER, guild_id=GUILD)
    await api.wait_for("POST", r"/webhooks/", predicate=lambda c: ix["token"] in c.path)
    sent = api.messages[-1]
    press = await api.component("buy:sku-1", user_id=USER + 1, message=sent, guild_id=GUILD)
    (call,) = await api.wait_for("POST", press["token"])
    assert Buy.pressed == [("sku-1", USER + 1)]
    assert call.json["type"] == 7 and call.json["data"]["content"] == "bought sku-1"
    assert api.messages[-1]["id"] == sent["id"] and api.messages[-1]["content"] == "bought sku-1"
    assert api.messages[-1]["components"] == [] and api.messages[-1]["edited_timestamp"]
    # A press on a message this client never sent (e.g. before a restart) needs add_dynamic_items.
    other = await api.component("buy:sku-9", user_id=USER, guild_id=None)
    await api.wait_for("POST", other["token"])
    assert Buy.pressed[-1] == ("sku-9", USER)


async def test_tree_sync_puts_global_and_guild_commands(api: DiscordStandIn, bot: Running) -> None:
    _, tree, _ = bot
    await tree.set_translator(Translator())
    synced = await tree.sync()
    assert sorted(c.name for c in synced) == ["find", "later", "ping"] and all(c.id for c in synced)
    (put,) = api.calls_to("PUT", rf"/applications/{api.application_id}/commands$")
    ping = next(c for c in put.json if c["name"] == "ping")
    assert ping["name_localizations"] == {"zh-CN": "乒"} and ping["description_localizations"] == {"zh-CN": "检查"}
    assert [c["name"] for c in api.commands[None]] == [c["name"] for c in put.json]
    tree.copy_global_to(guild=discord.Object(GUILD))
    await tree.sync(guild=discord.Object(GUILD))
    assert {c["name"] for c in api.commands[GUILD]} == {"ping", "find", "later"}
    fetched = await tree.fetch_commands(guild=discord.Object(GUILD))
    assert {c.id for c in fetched} == {int(c["id"]) for c in api.commands[GUILD]}
    ix = await api.slash("find", {"query": "tv"}, user_id=USER, guild_id=GUILD)
    assert ix["data"]["guild_id"] == str(GUILD)
    assert ix["data"]["id"] == next(c["id"] for c in api.commands[GUILD] if c["name"] == "find")
    await api.wait_for("POST", ix["token"])


async def test_429_on_followup_is_retried_after_retry_after(api: DiscordStandIn, bot: Running) -> None:
    api.fail_next("POST", r"/webhooks/", 429, retry_after=0.3)
    ix = await api.slash("ping", user_id=USER, guild_id=GUILD)
    first, second = await api.wait_for("POST", r"/webhooks/", count=2)
    assert first.status == 429 and second.status == 200 and second.at - first.at >= 0.3
    assert [c.status for c in api.responses(ix)] == [200, 429, 200]


async def test_500_is_retried_and_404_raised(api: DiscordStandIn, bot: Running) -> None:
    api.fail_next("POST", r"/webhooks/", 500)
    await api.slash("ping", user_id=USER, guild_id=GUILD)
    first, second = await api.wait_for("POST", r"/webhooks/", count=2, timeout=6)
    assert (first.status, second.status) == (500, 200) and second.at - first.at >= 1  # discord.py sleeps 1 + 2n s
    api.fail_next("POST", r"/callback", 404)
    await api.slash("find", {"query": "x"}, user_id=USER, guild_id=GUILD)
    err = await eventually(lambda: bot[2]["errors"])
    assert isinstance(err[0].original, discord.NotFound) and err[0].original.code == 10062


async def test_dm_free_text_and_channel_send(api: DiscordStandIn, bot: Running) -> None:
    client, _, seen = bot
    await api.dm_message(USER, "any cheap phones?")
    await eventually(lambda: seen["dms"])
    assert seen["dms"] == ["any cheap phones?"]
    dm = await client.create_dm(discord.Object(USER))  # type: ignore[arg-type]
    sent = await dm.send("here you go", file=discord.File(__file__, filename="list.txt"))
    (call,) = api.calls_to("POST", rf"/channels/{dm.id}/messages")
    assert call.json["content"] == "here you go" and call.files[0]["filename"] == "list.txt"
    assert sent.attachments[0].filename == "list.txt" and api.messages[-1]["id"] == str(sent.id)
    channel = client.get_channel(GUILD + 1)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as empty:
        await channel.send(embeds=[])
    assert empty.value.code == 50006


async def test_resume_after_reconnect_replays_missed_events(api: DiscordStandIn, bot: Running) -> None:
    client, _, _ = bot
    resumed = asyncio.Event()

    async def on_resumed() -> None:
        resumed.set()
    client.event(on_resumed)
    await api.reconnect_clients()
    await asyncio.wait_for(resumed.wait(), 5)
    assert len(api.identifies) == 1  # resumed, not re-identified
    ix = await api.slash("find", {"query": "y"}, user_id=USER, guild_id=GUILD)
    await api.wait_for("POST", ix["token"])


async def test_sharded_client_uses_gateway_bot(api: DiscordStandIn) -> None:
    async with running(api, sharded=True) as (client, _, _):
        assert api.calls_to("GET", r"/gateway/bot$")[0].status == 200
        assert api.identifies[0]["shard"] == [0, 1] and client.shard_count == 1
        ix = await api.slash("find", {"query": "z"}, user_id=USER, guild_id=GUILD)
        await api.wait_for("POST", ix["token"])
    assert client.is_closed()


async def test_two_clients_and_plain_text_frames(api: DiscordStandIn) -> None:
    api.compress = False
    async with running(api) as (first, _, _), running(api) as (second, _, _):
        await api.wait_ready(sessions=2)
        ix = await api.slash("find", {"query": "q"}, user_id=USER, guild_id=GUILD)
        first_call, second_call = await api.wait_for("POST", ix["token"], count=2)
        assert sorted([first_call.status, second_call.status]) == [200, 400]  # both got it; one ack wins
    assert first.is_closed() and second.is_closed()


async def test_edit_original_after_defer(api: DiscordStandIn, bot: Running) -> None:
    ix = await api.slash("later", user_id=USER, guild_id=GUILD)
    await eventually(lambda: "original" in bot[2])
    calls = api.responses(ix)
    assert [(c.method, c.path.rsplit("/", 1)[-1], c.status) for c in calls] == [
        ("POST", "callback", 200), ("PATCH", "@original", 200), ("GET", "@original", 200)]
    assert bot[2]["original"].content == "done" and api.messages[-1]["content"] == "done"
    assert api.messages[-1]["flags"] == 0 and api.messages[-1]["edited_timestamp"] is None  # it was "thinking"


async def test_bad_token_and_stopping_under_a_running_client(monkeypatch: pytest.MonkeyPatch) -> None:
    api = DiscordStandIn(token="right")
    await api.start()
    monkeypatch.setattr(discord.http.Route, "BASE", api.api_url)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(api.gateway_url))
    client, _, _ = make_client()
    with pytest.raises(discord.LoginFailure):
        await client.login("wrong")
    await client.close()
    client, _, _ = make_client()
    await client.login("right")
    task = asyncio.create_task(client.connect())
    await api.wait_ready()
    await api.stop()  # the client loses its gateway and retries; closing it still ends promptly
    await client.close()
    await asyncio.wait_for(task, 5)
