"""The review web app: server-rendered pages on 127.0.0.1, one record at a time, a token for every request.

The token is printed when the server starts and given once in the URL (`/?token=...`); the app then keeps it
in an HttpOnly cookie. API clients send it as `X-Review-Token`. Without it nothing is shown or written, so
another user of the machine cannot decide records.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from .policy import QueuePolicy
from .stats import queue_stats
from .store import ReviewError, ReviewStore

COOKIE, REVIEWER = "medcurate_review_token", "medcurate_reviewer"
RTL = {"ar", "he", "fa", "ur", "yi", "ps", "sd", "ug", "dv"}
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


@dataclass(frozen=True)
class Served:
    """The queue a server shows, its store and policy, and the access token every request must carry."""

    store: ReviewStore
    queue: str
    policy: QueuePolicy
    token: str

    def authorised(self, request: Request) -> bool:
        given = request.headers.get("x-review-token") or request.cookies.get(COOKIE) or ""
        return secrets.compare_digest(given.encode(), self.token.encode())


def make_app(store: ReviewStore, queue: str, token: str | None = None) -> FastAPI:
    served = Served(store, queue, store.policy(queue), token or secrets.token_urlsafe(24))  # unknown queue: fails
    app = FastAPI(title=f"medcurate review: {queue}", docs_url=None, redoc_url=None)
    app.state.token = served.token
    add_pages(app, served)
    add_api(app, served)
    return app


def denied() -> HTMLResponse:
    return HTMLResponse("<h1>403</h1><p>Open the link printed by <code>medcurate review serve</code> "
                        "(it carries the access token).</p>", status_code=403)


def add_pages(app: FastAPI, q: Served) -> None:
    """The server-rendered pages: the token exchange, the reviewer's name, one record at a time."""

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, token: str | None = None):
        if token is not None and secrets.compare_digest(token.encode(), q.token.encode()):
            resp = RedirectResponse("/", status_code=303)  # the token leaves the address bar for a cookie
            resp.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            return resp
        if not q.authorised(request):
            return denied()
        if not request.cookies.get(REVIEWER):
            return TEMPLATES.TemplateResponse(request, "name.html", {"queue": q.queue})
        return RedirectResponse("/review", status_code=303)

    @app.post("/reviewer")
    def set_reviewer(request: Request, reviewer: str = Form(...)):
        if not q.authorised(request):
            return denied()
        resp = RedirectResponse("/review", status_code=303)
        resp.set_cookie(REVIEWER, reviewer.strip()[:80], httponly=True, samesite="strict")
        return resp

    @app.get("/review", response_class=HTMLResponse)
    def review(request: Request, message: str | None = None):
        if not q.authorised(request):
            return denied()
        reviewer = request.cookies.get(REVIEWER)
        if not reviewer:
            return RedirectResponse("/", status_code=303)
        return TEMPLATES.TemplateResponse(request, "review.html", page_context(q, reviewer, message))

    @app.post("/review")
    async def decide_form(request: Request):
        if not q.authorised(request):
            return denied()
        form = await request.form()
        reviewer = request.cookies.get(REVIEWER) or ""
        edited = None
        if form.get("decision") == "edit":
            item = q.store.item(q.queue, str(form.get("record_id")))
            edited = edited_record(item.record if item else {}, form)
        try:
            q.store.decide(q.queue, str(form.get("record_id")), reviewer, str(form.get("decision")),
                           seen_hash=str(form.get("content_hash")), reason=form.get("reason") or None,  # type: ignore[arg-type]
                           note=str(form.get("note") or "") or None, edited=edited, reasons=q.policy.reasons)
        except ReviewError as e:
            return RedirectResponse(f"/review?message={quote(str(e))}", status_code=303)
        return RedirectResponse("/review", status_code=303)


def page_context(q: Served, reviewer: str, message: str | None) -> dict[str, Any]:
    """What the review page shows: the reviewer's next record (with its parent), progress and the reasons."""
    item = q.store.next_item(q.queue, reviewer)
    done, total = q.store.progress(q.queue)
    context: dict[str, Any] = {"queue": q.queue, "reviewer": reviewer, "done": done, "total": total,
                               "item": item, "reasons": q.policy.reasons, "message": message}
    if item is not None:
        rec = item.record
        context.update(rec=rec, rtl=(rec.get("lang") or "") in RTL, meta=rec.get("meta") or {},
                       parent=item.parent, parent_rtl=((item.parent or {}).get("lang") or "") in RTL)
    return context


def add_api(app: FastAPI, q: Served) -> None:
    """The JSON API: the same actions for scripts and tests."""

    def forbidden() -> JSONResponse:
        return JSONResponse({"error": "missing or wrong token"}, status_code=403)

    @app.get("/api/next")
    def api_next(request: Request, reviewer: str):
        if not q.authorised(request):
            return forbidden()
        try:
            item = q.store.next_item(q.queue, reviewer)
        except ReviewError as e:
            return JSONResponse({"error": str(e)}, status_code=e.status)
        if item is None:
            return JSONResponse({"item": None, "done": True})
        return JSONResponse({"item": {"record_id": item.record_id, "content_hash": item.content_hash,
                                      "record": item.record, "parent": item.parent, "needed": item.needed}})

    @app.post("/api/decide")
    async def api_decide(request: Request):
        if not q.authorised(request):
            return forbidden()
        try:
            body = orjson.loads(await request.body())
            q.store.decide(q.queue, str(body.get("record_id")), str(body.get("reviewer") or ""),
                           str(body.get("decision")), seen_hash=str(body.get("content_hash")),
                           reason=body.get("reason"), note=body.get("note"), edited=body.get("edited"),
                           reasons=q.policy.reasons)
        except orjson.JSONDecodeError:
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        except ReviewError as e:
            return JSONResponse({"error": str(e)}, status_code=e.status)
        return JSONResponse({"ok": True})

    @app.get("/api/stats")
    def api_stats(request: Request):
        if not q.authorised(request):
            return forbidden()
        return JSONResponse(queue_stats(q.store, q.queue))


def edited_record(record: dict[str, Any], form: Any) -> dict[str, Any]:
    """The record with the contents the reviewer typed (one field per message, or the text)."""
    edited = {k: record.get(k) for k in ("messages", "text", "mcq")}
    if record.get("messages"):
        edited["messages"] = [{"role": m["role"], "content": str(form.get(f"content_{i}", m["content"])).strip()}
                              for i, m in enumerate(record["messages"])]
    elif record.get("text") is not None:
        edited["text"] = str(form.get("text", record["text"])).strip()
    return edited
