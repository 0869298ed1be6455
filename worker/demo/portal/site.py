"""A small order portal on loopback for browser tests and the demo: a stdlib WSGI app in a
thread.

Pages: login (password), an order list with a search box, order details, a refund form
with a select, a support form. A cookie banner covers the login and support pages until it
is dismissed (a `consent` cookie); the other pages never show it. Every form POST is kept in
`posts` (path + fields), every order page view in `views`. Test switches: `rename_sign_in`
renames the login button (text and id), `rename_fields` the login inputs (`user`, `pass`),
so their recorded selectors stop matching.

Redesigns for the closed loop (`variant`): "v1" as above; "v2" puts an announcement banner
at the top of every page and the content in an extra wrapper, so absolute positional xpaths
recorded on v1 fail; "v3" is v2 with other button texts, each button in its own wrapper;
"v4" is v2 where signing in lands on a welcome page (/home) and an order's page is a table
with other ids and labels ("Order status", "Amount 129.90 EUR"): every outcome check of
sign_in and every reader of read_order must be learned again.
`welcome_once` shows a welcome dialog over the order list the first time a session opens it
(not on the redirect after signing in; the search form appears once it is closed): a one-off
obstacle in the first loop iteration.
`drift` nests the sign-in page one wrapper deeper on every view: its positional xpaths never
hold twice, so a repaired sign-in keeps failing.
`decoy` puts a "Save as draft" button (posting to /refunds/draft) before the refund form's
submit button: the recorded positional xpath of "Request refund" now designates it, an
element of the same tag, and clicking it would save a draft instead of requesting the refund.
"""

from __future__ import annotations

import html
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, quote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pyotp

StartResponse = Callable[..., Any]
BANNER_PAGES = frozenset({"/login", "/support"})
REFUND_REASONS = {"damaged": "Arrived damaged", "late": "Arrived late", "wrong_item": "Wrong item"}
VARIANTS = ("v1", "v2", "v3")
# Button texts: v1/v2, and v3's.
BUTTONS = {
    "sign_in": ("Sign in", "Continue"),
    "open": ("Open", "Find"),
    "refund": ("Request refund", "Submit request"),
    "send": ("Send", "Send message"),
}


@dataclass(frozen=True)
class Order:
    number: str
    status: str
    total: str  # as shown, e.g. "129.90"


@dataclass(frozen=True)
class Account:
    password: str
    orders: tuple[Order, ...]

    def order(self, number: str) -> Order | None:
        return next((o for o in self.orders if o.number == number), None)


@dataclass(frozen=True)
class Post:
    path: str
    fields: dict[str, str]


ACCOUNTS = {
    "alice@shop.test": Account(
        "alice-pw-7Qx!",
        (
            Order("A-1001", "shipped", "129.90"),
            Order("A-1002", "delivered", "18.50"),
            Order("A-1003", "processing", "342.00"),
        ),
    ),
    "bob@shop.test": Account(
        "bob-pw-Zk2#",
        (
            Order("B-2001", "delivered", "75.25"),
            Order("B-2002", "cancelled", "9.99"),
        ),
    ),
}


@dataclass
class Site:
    accounts: Mapping[str, Account] = field(default_factory=lambda: dict(ACCOUNTS))
    rename_sign_in: bool = False
    rename_fields: bool = False
    variant: str = "v1"
    welcome_once: bool = False
    drift: bool = False
    decoy: bool = False
    login_views: int = 0
    posts: list[Post] = field(default_factory=list)
    views: list[tuple[str, str]] = field(default_factory=list)  # (username, order number)
    _sessions: dict[str, dict[str, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Pages for binding by value (issue 14): /process (an order number and a note; answers
    # with a fresh confirmation code), /confirm (that code typed back), /security (a TOTP).
    totp_secrets: dict[str, str] = field(default_factory=dict)  # username → base32 secret
    processed: list[tuple[str, str, str]] = field(default_factory=list)  # user, order, note
    confirmations: list[tuple[str, str, bool]] = field(default_factory=list)  # user, code, ok
    one_time_codes: list[tuple[str, bool]] = field(default_factory=list)  # user, accepted

    def signed_in(self) -> list[str]:
        """The users with a session, in the order they signed in."""
        with self._lock:
            return [s["user"] for s in self._sessions.values()]

    def clear(self) -> None:
        with self._lock:
            self.posts.clear()
            self.views.clear()
            self._sessions.clear()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            status, headers, body = self._handle(Request(environ))
        start_response(status, [("Content-Type", "text/html; charset=utf-8"), *headers])
        return [body.encode("utf-8")]

    def _handle(self, req: Request) -> tuple[str, list[tuple[str, str]], str]:
        req.variant = self.variant
        if req.method == "POST":
            self.posts.append(Post(req.path, req.form))
        if req.path == "/":
            return redirect("/login")
        if req.path == "/login":
            return self._login(req)
        session = self._sessions.get(req.cookies.get("sid", ""))
        if session is None:
            return redirect("/login")
        account = self.accounts[session["user"]]
        if (handled := self._values_pages(req, session)) is not None:
            return handled
        if req.path == "/orders":
            # Shown when the user opens the list, not on the redirect after signing in.
            welcome = (
                self.welcome_once
                and not session.get("welcomed")
                and not req.referer.endswith("/login")
            )
            if welcome:
                session["welcomed"] = "1"
            return ok(page(req, "Your orders", orders_page(account, welcome, req.variant)))
        if req.path == "/home":
            return ok(page(req, "Welcome", "<p><a href='/orders'>Your orders</a></p>"))
        if req.path == "/orders/search":
            number = req.query.get("q", "").strip()
            if account.order(number) is None:
                return ok(page(req, "Not found", f"<p>No order {html.escape(number)}.</p>"))
            return redirect(f"/orders/{quote(number)}")
        if req.path.startswith("/orders/"):
            order = account.order(req.path.removeprefix("/orders/"))
            if order is None:
                return "404 Not Found", [], page(req, "Not found", "<p>No such order.</p>")
            session["last_order"] = order.number
            self.views.append((session["user"], order.number))
            return ok(page(req, f"Order {order.number}", order_page(order, req.variant)))
        last = session.get("last_order", "")
        if req.path == "/refunds/new":
            return ok(page(req, "Request a refund", refund_form(last, req.variant, self.decoy)))
        if req.path == "/support":
            return ok(page(req, "Contact support", support_form(last, req.variant)))
        if req.path == "/refunds/draft" and req.method == "POST":
            return ok(page(req, "Draft saved", "<p id='draft'>Draft saved.</p>"))
        if req.path in ("/refunds", "/support/tickets") and req.method == "POST":
            done = "Refund requested" if req.path == "/refunds" else "Ticket sent"
            number = html.escape(req.form.get("order", ""))
            return ok(page(req, done, f"<p id='confirmation'>{done} for {number}.</p>"))
        return "404 Not Found", [], page(req, "Not found", "<p>Nothing here.</p>")

    def _login(self, req: Request) -> tuple[str, list[tuple[str, str]], str]:
        if req.method == "POST":
            user = req.form.get("username") or req.form.get("user", "")
            password = req.form.get("password") or req.form.get("pass")
            account = self.accounts.get(user)
            if account is not None and password == account.password:
                sid = secrets.token_hex(8)
                self._sessions[sid] = {"user": user}
                home = "/home" if self.variant == "v4" else "/orders"
                return redirect(home, cookie=f"sid={sid}; Path=/; HttpOnly")
            body = "<p id='error'>Wrong username or password.</p>" + login_form(self)
            return "401 Unauthorized", [], page(req, "Sign in", body)
        self.login_views += 1
        form = login_form(self)
        if self.drift:
            depth = self.login_views % 4 + 1
            form = "<div>" * depth + form + "</div>" * depth
        return ok(page(req, "Sign in", form))

    def _values_pages(
        self, req: Request, session: dict[str, str]
    ) -> tuple[str, list[tuple[str, str]], str] | None:
        user = session["user"]
        if req.path == "/process" and req.method == "POST":
            number, note = req.form.get("number", ""), req.form.get("note", "")
            self.processed.append((user, number, note))
            session["confirmation"] = f"PC-{secrets.token_hex(4).upper()}"
            body = (
                f"<p id='done'>Processed order {html.escape(number)}.</p>"
                f"<p>Confirmation {session['confirmation']}</p>"
            )
            return ok(page(req, "Processed", body))
        if req.path == "/process":
            return ok(
                page(
                    req,
                    "Process an order",
                    """<form method="post" action="/process">
 <label>Order <input name="number"></label> <label>Note <input name="note"></label>
 <button id="process" type="submit">Process</button></form>""",
                )
            )
        if req.path == "/confirm" and req.method == "POST":
            code = req.form.get("code", "")
            self.confirmations.append((user, code, code == session.get("confirmation")))
            return ok(page(req, "Confirmed", "<p>Thank you.</p>"))
        if req.path == "/confirm":
            return ok(
                page(
                    req,
                    "Confirm",
                    """<form method="post" action="/confirm">
 <label>Code <input name="code"></label> <button id="confirm" type="submit">Confirm</button>
 </form>""",
                )
            )
        if req.path == "/security" and req.method == "POST":
            secret = self.totp_secrets.get(user)
            code = req.form.get("code", "")
            accepted = secret is not None and pyotp.TOTP(secret).verify(code, valid_window=1)
            self.one_time_codes.append((user, accepted))
            return ok(page(req, "Verified" if accepted else "Wrong code", ""))
        if req.path == "/security":
            return ok(
                page(
                    req,
                    "Two-factor check",
                    """<form method="post" action="/security">
 <label>Code <input name="code" autocomplete="one-time-code"></label>
 <button id="verify" type="submit">Verify</button></form>""",
                )
            )
        return None


class Request:
    def __init__(self, environ: dict[str, Any]) -> None:
        self.variant = "v1"
        self.referer = environ.get("HTTP_REFERER", "")
        self.method = environ["REQUEST_METHOD"]
        self.path = environ.get("PATH_INFO", "/")
        self.query = _flat(parse_qs(environ.get("QUERY_STRING", "")))
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        self.cookies = {k: v.value for k, v in cookie.items()}
        self.form: dict[str, str] = {}
        if self.method == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(size).decode("utf-8")
            self.form = _flat(parse_qs(raw, keep_blank_values=True))


def _flat(values: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[-1] for k, v in values.items()}


def ok(body: str) -> tuple[str, list[tuple[str, str]], str]:
    return "200 OK", [], body


def redirect(location: str, cookie: str | None = None) -> tuple[str, list[tuple[str, str]], str]:
    headers = [("Location", location)] + ([("Set-Cookie", cookie)] if cookie else [])
    return "303 See Other", headers, ""


BANNER = """<div id="cookie-banner" role="dialog"
 style="position:fixed;inset:0;background:rgba(0,0,0,.5);z-index:10">
 <div style="background:#fff;margin:30vh auto;padding:1em;width:20em">
  <p>We use cookies.</p>
  <button type="button" aria-label="Dismiss cookie banner"
   onclick="document.cookie='consent=1; path=/';
            document.getElementById('cookie-banner').remove()">Got it</button>
 </div></div>"""


ANNOUNCEMENT = """<div id="announcement" role="banner"><p>Our shop has a new look.</p></div>"""


def page(req: Request, title: str, body: str) -> str:
    banner = BANNER if req.path in BANNER_PAGES and req.cookies.get("consent") != "1" else ""
    content = f"<h1>{html.escape(title)}</h1>{body}"
    if req.variant != "v1":  # the redesign: a banner on top, the content in a wrapper
        content = f"{ANNOUNCEMENT}<div class='wrapper'><main>{content}</main></div>"
    return (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>"
        f"{content}{banner}</body></html>"
    )


def button(key: str, variant: str, attributes: str = 'type="submit"') -> str:
    """A button as the variant shows it: v3 has another text and a wrapper around it."""
    text = BUTTONS[key][1 if variant == "v3" else 0]
    tag = f"<button {attributes}>{html.escape(text)}</button>"
    return f"<div class='actions'>{tag}</div>" if variant == "v3" else tag


def login_form(site: Site) -> str:
    user, password = ("user", "pass") if site.rename_fields else ("username", "password")
    if site.rename_sign_in:
        submit = '<button id="login-submit" type="submit">Log in</button>'
    else:
        submit = button("sign_in", site.variant, 'id="sign-in" type="submit"')
    return f"""<form id="login" method="post" action="/login">
 <label>Username <input name="{user}" type="text"></label>
 <label>Password <input name="{password}" type="password"></label>
 {submit}</form>"""


WELCOME = """<div id="welcome" role="dialog" aria-label="Welcome">
 <p>Welcome back! Your orders are below.</p>
 <button type="button" onclick="document.getElementById('welcome').remove();
  document.getElementById('search').style.display='block'">Close</button></div>"""


def orders_page(account: Account, welcome: bool = False, variant: str = "v1") -> str:
    rows = "".join(
        f"<tr><td><a href='/orders/{quote(o.number)}'>{html.escape(o.number)}</a></td>"
        f"<td>{html.escape(o.status)}</td></tr>"
        for o in account.orders
    )
    hidden = ' style="display:none"' if welcome else ""
    return f"""{WELCOME if welcome else ""}<form id="search" method="get"
 action="/orders/search"{hidden}>
 <input name="q" placeholder="Order number" autocomplete="off">
 {button("open", variant)}</form>
 <table id="orders"><tr><th>Order</th><th>Status</th></tr>{rows}</table>"""


def order_page(order: Order, variant: str = "v1") -> str:
    if variant == "v4":  # the redesign's order card: a table, other ids
        return (
            "<table class='order-card'>"
            f"<tr><th>Order status</th><td id='order-status'>{html.escape(order.status)}</td></tr>"
            f"<tr><th>Amount</th><td id='order-amount'>{html.escape(order.total)} EUR</td></tr>"
            "</table><p><a href='/orders'>Back to orders</a></p>"
        )
    return (
        f"<dl><dt>Status</dt><dd id='status'>{html.escape(order.status)}</dd>"
        f"<dt>Total</dt><dd id='total'>EUR {html.escape(order.total)}</dd></dl>"
        "<p><a href='/orders'>Back to orders</a></p>"
    )


DECOY = '<button type="submit" formaction="/refunds/draft">Save as draft</button>'


def refund_form(order: str, variant: str = "v1", decoy: bool = False) -> str:
    options = "".join(
        f"<option value='{k}'>{html.escape(v)}</option>" for k, v in REFUND_REASONS.items()
    )
    return f"""<form method="post" action="/refunds">
 <p>Order <strong>{html.escape(order)}</strong></p>
 <input type="hidden" name="order" value="{html.escape(order)}">
 <label>Reason <select id="reason" name="reason"><option value="">Choose…</option>
 {options}</select></label>
 {DECOY if decoy else ""}{button("refund", variant, 'id="submit-refund" type="submit"')}</form>"""


def support_form(order: str, variant: str = "v1") -> str:
    return f"""<form method="post" action="/support/tickets">
 <input type="hidden" name="order" value="{html.escape(order)}">
 <label>Message <textarea name="message"></textarea></label>
 {button("send", variant)}</form>"""


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # browsers keep idle connections open; never block on one


@contextmanager
def serve(site: Site) -> Iterator[str]:
    """Serve `site` on a free loopback port; yields its base url."""
    server = make_server(
        "127.0.0.1", 0, site, server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="test-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
