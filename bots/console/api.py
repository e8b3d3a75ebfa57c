"""The console's JSON API under ``/api/``, for programs acting as an agent (a CS tool, a script).

Each call carries ``Authorization: Bearer <token>``; the token's SHA-256 is looked up in
DAOGOU_AGENT_TOKENS and the call acts as that agent.  401 without a token or with an unknown
one; 403 for a ticket assigned to another agent; 409 when the ticket's state does not allow
the action; 404 for no such ticket.  Errors are ``{"error": "..."}``.  ``GET
/api/openapi.json`` describes it all (no token needed: it holds no data).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bots.console.actions import ACTIONS, ActionError, act, brief
from bots.console.web import CONSOLE
from core.tickets import ASSIGNED, PENDING


def add_routes(app: web.Application) -> None:
    app.add_routes([
        web.get("/api/openapi.json", openapi),
        web.get("/api/tickets", list_tickets),
        web.get("/api/tickets/{id}", get_ticket),
        web.post("/api/tickets/{id}/{action}", ticket_action),
    ])


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


def _agent(request: web.Request) -> str:
    """The agent whose bearer token came with the request; 401 otherwise."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    agent = request.app[CONSOLE].accounts.agent_for_token(token.strip()) if scheme.lower() == "bearer" else None
    if agent is None:
        raise web.HTTPUnauthorized(text=json.dumps({"error": "a valid bearer token is required"}),
                                   content_type="application/json",
                                   headers={"WWW-Authenticate": 'Bearer realm="daogou-console"'})
    return agent


async def list_tickets(request: web.Request) -> web.Response:
    _agent(request)
    console = request.app[CONSOLE]
    state = request.query.get("state", "open")
    queue = request.query.get("queue") or None
    if state not in ("open", PENDING, ASSIGNED):
        return _error(400, "state is open, pending or assigned")
    if state == PENDING:
        found = await console.tickets.queue(200, queue=queue)
    else:
        found = [t for t in await console.tickets.open_tickets(500)
                 if (state == "open" or t.state == state) and (queue is None or t.queue == queue)]
    now = console.clock()
    return web.json_response({"tickets": [brief(t, now) for t in found]})


async def get_ticket(request: web.Request) -> web.Response:
    _agent(request)
    ticket = await request.app[CONSOLE].tickets.find(request.match_info["id"])
    if ticket is None:
        return _error(404, "no such ticket")
    return web.json_response(ticket.to_dict())


async def ticket_action(request: web.Request) -> web.Response:
    agent = _agent(request)
    console = request.app[CONSOLE]
    fields: dict[str, Any] = {}
    if request.can_read_body:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return _error(400, "the body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "the body is a JSON object")
        fields = {k: v for k, v in body.items() if isinstance(v, str)}
    try:
        ticket = await act(console.desk, console.accounts.names, agent, request.match_info["id"],
                           request.match_info["action"], fields)
    except ActionError as exc:
        return _error(exc.status, exc.message)
    return web.json_response(brief(ticket, console.clock()))


# -- OpenAPI -----------------------------------------------------------------------------------

def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "404": _json(_ref("Error"), "No such ticket"),
}
_ACTION_BODIES: dict[str, dict[str, Any]] = {
    "claim": {"type": "object", "properties": {}},
    "reply": {"type": "object", "required": ["text"],
              "properties": {"text": {"type": "string", "maxLength": 4000, "description": "sent to the customer"}}},
    "transfer": {"type": "object", "description": "to_agent, to_queue or both",
                 "properties": {"to_agent": {"type": "string"}, "to_queue": {"type": "string"},
                                "note": {"type": "string"}}},
    "resolve": {"type": "object", "properties": {"note": {"type": "string"}}},
}
_ACTION_DOCS = {
    "claim": "Take a pending ticket; the customer is told a person joined. 409 if someone took it first.",
    "reply": "Answer the customer (sent through their chat app). Only the assignee may reply.",
    "transfer": "Give the ticket to another agent, or back to a queue.",
    "resolve": "Close the ticket; the customer is asked for a 1-5 rating.",
}


def openapi_document() -> dict[str, Any]:
    brief_props = {
        "id": {"type": "string"}, "state": {"type": "string", "enum": ["pending", "assigned"]},
        "priority": {"type": "integer", "minimum": 0, "maximum": 9}, "reason": {"type": "string"},
        "queue": {"type": "string"}, "platform": {"type": "string"}, "user_id": {"type": "string"},
        "lang": {"type": "string"}, "assignee": {"type": "string", "nullable": True},
        "created_at": {"type": "number"}, "updated_at": {"type": "number"}, "age_s": {"type": "integer"},
        "sla_deadline": {"type": "number"}, "customer_messages": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    }
    paths: dict[str, Any] = {
        "/api/tickets": {"get": {
            "summary": "Open tickets (pending ones by priority, then age)", "operationId": "listTickets",
            "parameters": [
                {"name": "state", "in": "query", "schema": {"type": "string", "enum": ["open", "pending", "assigned"],
                                                             "default": "open"}},
                {"name": "queue", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {"200": _json({"type": "object", "properties": {
                "tickets": {"type": "array", "items": _ref("TicketBrief")}}}, "The tickets"),
                "400": _json(_ref("Error"), "Bad parameters"), "401": _ERRORS["401"]},
        }},
        "/api/tickets/{id}": {"get": {
            "summary": "One ticket with transcript, summary and messages", "operationId": "getTicket",
            "parameters": [{"$ref": "#/components/parameters/TicketId"}],
            "responses": {"200": _json(_ref("Ticket"), "The ticket"), **_ERRORS},
        }},
    }
    for action in ACTIONS:
        paths[f"/api/tickets/{{id}}/{action}"] = {"post": {
            "summary": _ACTION_DOCS[action], "operationId": f"{action}Ticket",
            "parameters": [{"$ref": "#/components/parameters/TicketId"}],
            "requestBody": {"required": action == "reply",
                            "content": {"application/json": {"schema": _ACTION_BODIES[action]}}},
            "responses": {
                "200": _json(_ref("TicketBrief"), "The ticket after the action"),
                "400": _json(_ref("Error"), "Malformed request"), **_ERRORS,
                "403": _json(_ref("Error"), "The ticket is assigned to another agent"),
                "409": _json(_ref("Error"), "The ticket's state does not allow this"),
            },
        }}
    return {
        "openapi": "3.0.3",
        "info": {"title": "daogou agent console API", "version": "1",
                 "description": "Handoff tickets for human agents. Authenticate with a bearer token made by "
                                "`daogou agents new-token NAME`."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": {"TicketId": {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}},
            "responses": {"Unauthorized": _json(_ref("Error"), "No token, or an unknown one")},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "TicketBrief": {"type": "object", "properties": brief_props},
                "Ticket": {"type": "object", "properties": {
                    **{k: v for k, v in brief_props.items() if k not in ("age_s",)},
                    "state": {"type": "string", "enum": ["pending", "assigned", "resolved", "abandoned"]},
                    "chat_id": {"type": "string"},
                    "transcript": {"type": "array", "items": {"type": "object"}},
                    "summary": {"type": "object", "description": "what the bot learned: budget, preferences, "
                                                                 "products shown, liked and disliked"},
                    "history": {"type": "array", "items": {"type": "object"}},
                    "messages": {"type": "array", "items": {"type": "object", "properties": {
                        "from": {"type": "string", "enum": ["customer", "agent"]}, "text": {"type": "string"},
                        "at": {"type": "number"}, "actor": {"type": "string"}}}},
                    "rating": {"type": "integer", "nullable": True}, "resolution": {"type": "string"},
                }},
            },
        },
        "security": [{"bearer": []}],
    }


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())
