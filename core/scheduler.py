"""Scheduled jobs: handoff SLA timers and housekeeping, run by ``daogou run scheduler``.

Jobs are module-level coroutine functions with stable ids, each called with a ``JobContext``
(the Redis client, settings, ticket store, outboxes and the clock ``now``)::

    sla_unclaimed   every scheduler_sla_interval    a pending ticket past its SLA deadline (nobody
                                                    claimed it within DAOGOU_HANDOFF_SLA) gets, once,
                                                    a wait estimate for the customer and priority + 1
    sla_abandon     every scheduler_sla_interval    an open ticket with no agent message nor claim for
                                                    DAOGOU_HANDOFF_ABANDON_HOURS is abandoned, customer told
    sweep           every scheduler_sweep_interval  housekeeping (see ``sweep``)

Once per firing across replicas: any number of processes may run the scheduler.  Each firing
takes a lease ``<prefix>:scheduler:<job id>:<fire time ms>`` (SET NX PX with a random token)
before the body runs; the replica that gets it runs the job, the others skip that firing.
Interval triggers start at the epoch, so every replica computes the same fire times.  After
a successful run the lease is kept (marked done) until it expires, so a replica that fires a
moment late for the same slot does not run it again; after a failure it is released by a Lua
compare-and-delete, so a late replica may still run it.  The per-ticket changes are atomic
besides (compare-and-set on the ticket record), so even two overlapping runs notify a
customer or abandon a ticket only once.  The change comes first and the message second: a
crash in between loses that one notice rather than sending it twice.

Every read of the business clock goes through ``JobContext.now`` (tests move time); the fire
time of a scheduled run is the trigger's slot on the system clock, which APScheduler fires by.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.hours import BusinessHours
from core.logs import configure
from core.messages import Reply
from core.outbox import GROUP, Outbox
from core.settings import Settings, SettingsError
from core.tickets import ASSIGNED, OPEN_STATES, PENDING, Ticket, TicketError, TicketStore
from core.wording import t

log = logging.getLogger(__name__)

ACTOR = "scheduler"
SLA_TAG = "sla_notified"  # on a ticket whose customer got the wait estimate; makes the notice once only
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PAGE = 200

# KEYS: lease.  ARGV: token.  Deletes the lease only while it is still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: lease.  ARGV: token.  Marks our lease done, keeping its expiry, so late replicas skip the slot.
_DONE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], 'done:' .. ARGV[1], 'KEEPTTL')
  return 1
end
return 0
"""

# KEYS: stream.  ARGV: group, minimum idle ms.  Deletes the group's consumers idle that long with
# nothing pending; checked and deleted in one step, so a consumer that comes back meanwhile keeps
# its pending messages (DELCONSUMER would drop them from the group for good).
_DEL_IDLE_CONSUMERS = """
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then return {} end
local gone = {}
for _, row in ipairs(consumers) do
  local info = {}
  for i = 1, #row, 2 do info[row[i]] = row[i + 1] end
  if tonumber(info['pending']) == 0 and tonumber(info['idle']) >= tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    table.insert(gone, info['name'])
  end
end
return gone
"""


@dataclass
class JobContext:
    """What the jobs of one scheduler process share; built by ``JobContext.build`` (or a test).

    ``now`` is the business clock: ticket ages, deadlines and retention are measured with it.
    ``history`` records (job id, fire time, "ran" | "skipped" | "failed", result) per firing.
    """

    redis: Redis
    settings: Settings
    tickets: TicketStore
    now: Callable[[], float] = time.time
    history: list[tuple[str, float, str, Any]] = field(default_factory=list)
    last: dict[str, dict[str, Any]] = field(default_factory=dict)
    running: int = 0
    _outboxes: dict[str, Outbox] = field(default_factory=dict)
    _scripts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, redis: Redis, settings: Settings, *, now: Callable[[], float] = time.time) -> JobContext:
        return cls(redis, settings, TicketStore(redis, settings, clock=now), now)

    def outbox(self, platform: str) -> Outbox:
        if platform not in self._outboxes:
            self._outboxes[platform] = Outbox(self.redis, self.settings, platform)
        return self._outboxes[platform]

    def script(self, source: str) -> Any:
        if source not in self._scripts:
            self._scripts[source] = self.redis.register_script(source)
        return self._scripts[source]

    def interval(self, job_id: str) -> int:
        return self.settings.scheduler_sweep_interval if job_id == "sweep" else self.settings.scheduler_sla_interval


# -- once per firing -----------------------------------------------------------------------------


def lease_key(settings: Settings, job_id: str, fire_time: float) -> str:
    return f"{settings.key_prefix}:scheduler:{job_id}:{round(fire_time * 1000)}"


def current_slot(interval: int, wall: float | None = None) -> float:
    """The fire time of the running slot: interval triggers start at the epoch, and APScheduler
    fires a slot only once the system clock reached it, so this is the time it fired for."""
    moment = time.time() if wall is None else wall
    return math.floor(moment / interval) * interval


async def run_once(ctx: JobContext, job_id: str, fire_time: float | None,
                   body: Callable[[JobContext], Awaitable[Any]]) -> Any:
    """Run ``body`` if this process wins the lease of (job, fire time); returns its result, or
    None when another replica has (or had) that firing.  Exceptions of ``body`` propagate after
    the lease is released."""
    slot = current_slot(ctx.interval(job_id)) if fire_time is None else fire_time
    key = lease_key(ctx.settings, job_id, slot)
    token = uuid.uuid4().hex
    keep_ms = max(ctx.interval(job_id), 60) * 2000
    if not await ctx.redis.set(key, token, nx=True, px=keep_ms):
        log.info("job %s at %s: skipped, another replica has this firing", job_id, _iso(slot))
        ctx.history.append((job_id, slot, "skipped", None))
        return None
    ctx.running += 1
    started = time.monotonic()
    try:
        result = await body(ctx)
    except BaseException as exc:
        ctx.history.append((job_id, slot, "failed", repr(exc)))
        ctx.last[job_id] = {"fire_time": slot, "status": "failed", "error": repr(exc)}
        try:
            await asyncio.shield(ctx.script(_RELEASE)(keys=[key], args=[token]))
        except (RedisError, OSError):
            log.warning("job %s: could not release its lease; it expires by itself", job_id)
        raise
    finally:
        ctx.running -= 1
    await ctx.script(_DONE)(keys=[key], args=[token])
    log.info("job %s at %s: ran in %.0f ms: %s", job_id, _iso(slot), (time.monotonic() - started) * 1000, result)
    ctx.history.append((job_id, slot, "ran", result))
    ctx.last[job_id] = {"fire_time": slot, "status": "ok", "result": result}
    return result


# -- the jobs --------------------------------------------------------------------------------------


async def sla_unclaimed(ctx: JobContext, fire_time: float | None = None) -> dict[str, int] | None:
    """Job "sla_unclaimed": tell each customer whose pending ticket passed its SLA deadline how
    long the wait is likely to be, once per ticket, and raise the ticket's priority by one.
    Skipped while the business hours say agents are away (the customer was told when they return)."""
    return await run_once(ctx, "sla_unclaimed", fire_time, _sla_unclaimed)


async def sla_abandon(ctx: JobContext, fire_time: float | None = None) -> dict[str, int] | None:
    """Job "sla_abandon": abandon open tickets that had no agent message nor claim for
    ``handoff_abandon_hours`` (counted from when agents could first see them), and tell the customer."""
    return await run_once(ctx, "sla_abandon", fire_time, _sla_abandon)


async def sweep(ctx: JobContext, fire_time: float | None = None) -> dict[str, int] | None:
    """Job "sweep": housekeeping of what does not expire by itself.

    Sessions, turn queues, dedup sets, button references and closed tickets are written with an
    expiry, so Redis drops them on time; this is the safety net for keys that lost theirs (a
    PERSIST by hand, an older version, a changed retention), plus what has no expiry at all:

    - dedup sets (``{user}:seen``) without an expiry: entries older than ``dedup_ttl`` removed,
      expiry set;
    - button references (``button:<ref>``) without an expiry: expiry set to ``button_ttl``;
    - closed tickets without an expiry: deleted (record and messages) when last changed more than
      ``ticket_ttl`` ago, else set to expire then; message lists whose ticket is gone: deleted;
    - the pending-queue and open-ticket indexes: ids of tickets gone, closed or moved, dropped
      (through ``TicketStore.queue`` / ``open_tickets``, which repair what they read);
    - outbox consumers idle ``outbox_consumer_idle_ms`` with nothing pending: deleted
      (XGROUP DELCONSUMER), so XINFO shows the live adapters.  One with pending messages is kept:
      its messages go to another consumer by XAUTOCLAIM first.

    Open tickets, sessions and the event streams (capped by length) are never touched.  Keys are
    found with SCAN over this deployment's prefix (on Redis Cluster, over every primary).
    """
    return await run_once(ctx, "sweep", fire_time, _sweep)


JOBS: dict[str, Callable[..., Awaitable[Any]]] = {
    "sla_unclaimed": sla_unclaimed,
    "sla_abandon": sla_abandon,
    "sweep": sweep,
}


async def _sla_unclaimed(ctx: JobContext) -> dict[str, int]:
    now = ctx.now()
    settings = ctx.settings
    hours = BusinessHours.parse(settings.handoff_hours, settings.handoff_timezone)
    if not hours.is_open(now):
        return {"notified": 0, "closed": 1}
    notified = 0
    async for ticket_id in _open_ids(ctx, until=now):
        ticket = await ctx.tickets.find(ticket_id, messages=False)
        if ticket is None or ticket.state != PENDING or SLA_TAG in ticket.tags or ticket.sla_deadline > now:
            continue
        raised = await ctx.tickets.escalate(ticket_id, actor=ACTOR, tag=SLA_TAG, now=now)
        if raised is None:
            continue  # claimed, closed or notified by someone else meanwhile
        place: Any = await ctx.redis.zrank(ctx.tickets.pending_key(raised.queue), raised.id)
        minutes = max(1, math.ceil(((place or 0) + 1) * settings.handoff_handling_minutes))
        from core.handoff import back_button  # the dialogue's button; imported late, it pulls in the policy

        reply = Reply(t("sla_busy", raised.lang, n=minutes), buttons=(back_button(raised.lang),), kind="notice")
        await ctx.outbox(raised.platform).put(raised.user_id, raised.chat_id or raised.user_id, reply, kind="sla")
        notified += 1
        log.info("ticket %s unclaimed past its SLA: customer told ~%d min, priority %d", raised.id, minutes,
                 raised.priority)
    return {"notified": notified}


async def _sla_abandon(ctx: JobContext) -> dict[str, int]:
    now = ctx.now()
    limit = ctx.settings.handoff_abandon_hours * 3600
    abandoned = 0
    # A ticket's wait starts no later than its SLA deadline less the SLA; none later can be due.
    # Collected first: abandoning drops ids from the index being paged through.
    due = [ticket_id async for ticket_id in _open_ids(ctx, until=now - limit + ctx.settings.handoff_sla)]
    for ticket_id in due:
        ticket = await ctx.tickets.find(ticket_id, messages=True)
        if ticket is None or not ticket.is_open:
            continue
        if now - last_agent_activity(ticket, ctx.settings) < limit:
            continue
        hours = ctx.settings.handoff_abandon_hours
        try:
            closed = await ctx.tickets.abandon(ticket_id, actor=ACTOR, note=f"no agent answer for {hours:g} hours")
        except TicketError:
            continue  # closed meanwhile (resolved by an agent, cancelled, abandoned by another run)
        reply = Reply(t("sla_abandoned", closed.lang), kind="notice")
        await ctx.outbox(closed.platform).put(closed.user_id, closed.chat_id or closed.user_id, reply, kind="sla")
        abandoned += 1
        log.info("ticket %s abandoned: no agent answer for %g hours", ticket_id, hours)
    return {"abandoned": abandoned}


def last_agent_activity(ticket: Ticket, settings: Settings) -> float:
    """When an agent last did something the customer saw: a message or a claim; else when the
    wait began (opening time, or when agents came back for a ticket opened after hours)."""
    since = max(ticket.created_at, ticket.sla_deadline - settings.handoff_sla)
    for message in ticket.messages:
        if message.sender == "agent":
            since = max(since, message.at)
    for step in ticket.history:
        if step.to_state == ASSIGNED:
            since = max(since, step.at)
    return since


async def _open_ids(ctx: JobContext, *, until: float) -> Any:
    """Ids in the open-ticket index with an SLA deadline at or before ``until``, page by page."""
    start = 0
    while True:
        page = await ctx.redis.zrangebyscore(ctx.tickets.open_key, "-inf", until, start=start, num=_PAGE)
        for member in page:
            yield _text(member)
        if len(page) < _PAGE:
            return
        start += _PAGE


async def _sweep(ctx: JobContext) -> dict[str, int]:
    settings, redis, store = ctx.settings, ctx.redis, ctx.tickets
    now = ctx.now()
    prefix = settings.key_prefix
    counts = {"seen_trimmed": 0, "buttons_expiring": 0, "tickets_deleted": 0, "tickets_expiring": 0,
              "orphan_messages": 0, "index_repaired": 0, "consumers_removed": 0}
    streams: list[str] = []
    seen_suffix, ticket_head, button_head = ":seen", f"{prefix}:ticket:{{", f"{prefix}:button:"
    outbox_head = f"{prefix}:outbox:"
    async for batch in _scan(redis, _glob_escape(prefix) + ":*"):
        candidates = []
        for key in batch:
            if key.startswith(outbox_head) and ":" not in key[len(outbox_head):]:
                streams.append(key)
            elif key.startswith((button_head, ticket_head)) or (
                    key.startswith(f"{prefix}:{{") and key.endswith(seen_suffix)):
                candidates.append(key)
        if not candidates:
            continue
        async with redis.pipeline(transaction=False) as pipe:
            for key in candidates:
                pipe.ttl(key)
            ttls = await pipe.execute()
        for key, ttl in zip(candidates, ttls):
            if ttl != -1:  # expiring already (or gone)
                continue
            if key.startswith(button_head):
                from core.buttons import FUTURE_SKEW_S

                counts["buttons_expiring"] += await redis.expire(key, settings.button_ttl + FUTURE_SKEW_S)
            elif key.endswith(seen_suffix):
                await redis.zremrangebyscore(key, "-inf", now - settings.dedup_ttl)
                await redis.expire(key, settings.dedup_ttl)
                counts["seen_trimmed"] += 1
            elif key.endswith(":messages"):
                if not await redis.exists(key[: -len(":messages")]):
                    counts["orphan_messages"] += await redis.delete(key)
            else:
                await _retire_ticket(ctx, key, now, counts)
    before = await _index_size(ctx)
    queues = sorted(_text(q) for q in await redis.smembers(store.queues_key))
    for queue in queues:
        await store.queue(limit=10_000, queue=queue)
    await store.open_tickets(limit=10_000)
    counts["index_repaired"] = before - await _index_size(ctx)
    for stream in streams:
        gone = await ctx.script(_DEL_IDLE_CONSUMERS)(keys=[stream], args=[GROUP, settings.outbox_consumer_idle_ms])
        for name in gone:
            log.info("outbox %s: removed consumer %s, idle with nothing pending", stream, _text(name))
        counts["consumers_removed"] += len(gone)
    return counts


async def _retire_ticket(ctx: JobContext, key: str, now: float, counts: dict[str, int]) -> None:
    """A ticket record without an expiry: fine while open; closed, it gets the retention it lacks."""
    raw = await ctx.redis.hget(key, "data")
    if raw is None:
        return
    ticket = Ticket.from_json(raw)
    if ticket.state in OPEN_STATES:
        return
    messages = key + ":messages"
    until = ticket.updated_at + ctx.settings.ticket_ttl
    if until <= now:
        await ctx.redis.delete(key, messages)
        counts["tickets_deleted"] += 1
    else:
        # EXPIREAT counts on the Redis clock; ``now`` may be a test's, so the remaining time is relative.
        remaining = max(1, math.ceil(until - now))
        await ctx.redis.expire(key, remaining)
        await ctx.redis.expire(messages, remaining)
        counts["tickets_expiring"] += 1


async def _index_size(ctx: JobContext) -> int:
    store = ctx.tickets
    total = await ctx.redis.zcard(store.open_key)
    for queue in await ctx.redis.smembers(store.queues_key):
        total += await ctx.redis.zcard(store.pending_key(_text(queue)))
    return int(total)


async def _scan(redis: Redis, match: str) -> Any:
    """The keys matching ``match``, in batches.  ``scan_iter`` because on Redis Cluster it walks
    every primary (a plain SCAN cursor belongs to one node)."""
    batch: list[str] = []
    async for key in redis.scan_iter(match=match, count=1000):
        batch.append(_text(key))
        if len(batch) >= 1000:
            yield batch
            batch = []
    if batch:
        yield batch


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


# -- the process -----------------------------------------------------------------------------------


def build_scheduler(ctx: JobContext) -> Any:
    """An AsyncIOScheduler with every job (memory job store: the schedule is code, and the
    Redis leases, not a shared job store, keep replicas from running a firing twice)."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler = AsyncIOScheduler(timezone=UTC)
    for job_id, func in JOBS.items():
        interval = ctx.interval(job_id)
        scheduler.add_job(
            func, IntervalTrigger(seconds=interval, start_date=_EPOCH, timezone=UTC), args=(ctx,),
            id=job_id, name=job_id, max_instances=1, coalesce=True, misfire_grace_time=max(1, interval // 2),
            replace_existing=True,
        )
    return scheduler


async def serve(settings: Settings, *, stop: asyncio.Event | None = None, redis: Redis | None = None,
                now: Callable[[], float] = time.time) -> int:
    """Run the jobs until SIGTERM/SIGINT (or ``stop``); called by ``daogou run scheduler``.

    Serves ``GET /healthz`` on ``scheduler_listen:scheduler_port``: 200 while Redis answers,
    with each job's last run and next fire time; 503 otherwise.  On stop, no new firing starts
    and running jobs get up to 30 s to finish.
    """
    from aiohttp import web

    from core.redis_conn import connect_from

    own_redis = redis is None
    client = redis if redis is not None else connect_from(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    ctx = JobContext.build(client, settings, now=now)
    scheduler = build_scheduler(ctx)

    async def healthz(_: web.Request) -> web.Response:
        jobs = {job.id: {"next_run": job.next_run_time.timestamp() if job.next_run_time else None,
                         **ctx.last.get(job.id, {})} for job in scheduler.get_jobs()}
        try:
            await client.ping()
            ok = scheduler.running
        except (RedisError, OSError):
            ok = False
        return web.json_response({"status": "ok" if ok else "unavailable", "jobs": jobs}, status=200 if ok else 503,
                                 dumps=lambda data: json.dumps(data, default=str))

    web_app = web.Application()
    web_app.router.add_get("/healthz", healthz)
    from core.ops import ops_routes  # /readyz and /metrics as every process serves them

    web_app.router.add_routes([route for route in ops_routes(client, settings) if route.path != "/healthz"])
    runner = web.AppRunner(web_app, access_log=None)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await client.ping()  # fail loudly at start when Redis is away
        await runner.setup()
        await web.TCPSite(runner, settings.scheduler_listen, settings.scheduler_port).start()
        port = runner.addresses[0][1] if runner.addresses else settings.scheduler_port
        scheduler.start()
        log.info("scheduler started: %s; health on http://%s:%s/healthz",
                 ", ".join(f"{j.id} every {ctx.interval(j.id)} s" for j in scheduler.get_jobs()),
                 settings.scheduler_listen, port)
        await stop.wait()
        log.info("scheduler stopping")
        scheduler.pause()  # no new firing; the running ones may finish
        deadline = time.monotonic() + 30
        while ctx.running and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)  # cancels what is still running; its leases expire
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
        if own_redis:
            await client.aclose()
    log.info("scheduler stopped")
    return 0


def main() -> int:
    """``daogou run scheduler``: settings from the environment; REDIS_URL is required."""
    try:
        settings = Settings.from_env(dict(os.environ))
        if not settings.redis_url:
            raise SettingsError("REDIS_URL is not set: the scheduler works on the Redis the bots share")
    except SettingsError as exc:
        print(f"daogou: {exc}", file=sys.stderr)
        return 2
    configure(settings)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # we log each run ourselves
    try:
        return asyncio.run(serve(settings))
    except (RedisError, OSError) as exc:
        print(f"daogou: scheduler: {exc}", file=sys.stderr)
        return 1


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
