"""Capture the relocation corpus's pages from real applications installed from PyPI.

    python bench/relocation/capture.py

makes three virtualenvs under var/ when they are missing (Django 4.2 LTS, Django 5.2 LTS,
Flask-Admin 1.6.1), serves the real-app help desk (tests/realapp/project) on each Django and
a small shop on Flask-Admin (bench/relocation/shop_flask_admin.py) in each of the three
template modes Flask-Admin ships, visits the pages in headless Chromium, and writes each
page's DOM as it was rendered (scripts removed: a snapshot does not change by itself) and
the stylesheets it used to tests/relocation/snapshots/<app>/, with a manifest of url path →
file. The snapshots are committed: the corpus, the benchmark and its test read them, never
the network. Captured once; run again only to renew the corpus.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.relocation.venvs import venv_python  # noqa: E402
from worker.browser.chromium import open_page  # noqa: E402

SNAPSHOTS = ROOT / "tests" / "relocation" / "snapshots"
PASSWORD = "corpus-admin-pw"  # a throwaway admin of a loopback capture
DJANGO_PAGES = {
    "login": "/admin/login/?next=/admin/",
    "index": "/admin/",
    "changelist": "/admin/shop/order/",
    "change_form": "/admin/shop/order/{order}/change/",
    "delete": "/admin/shop/order/{order}/delete/",
    "add_ticket": "/admin/shop/ticket/add/",
}
FLASK_PAGES = {
    "list": "/admin/order/",
    "create": "/admin/order/new/",
    "edit": "/admin/order/edit/?id=1",
    "customers": "/admin/customer/",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(args: list[str], cwd: Path, env: dict[str, str], port: int) -> Iterator[str]:
    process = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/admin/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


async def snapshot(page: Any, base: str, out: Path, name: str, manifest: dict[str, Any]) -> None:
    """The rendered DOM without scripts, and the stylesheets it links, under `out`."""
    hrefs: list[str] = await page.evaluate(
        "() => Array.from(document.querySelectorAll('link[rel=stylesheet]')).map(l => l.href)"
    )
    for href in hrefs:
        path = href.removeprefix(base).split("?")[0]
        target = out / "static-root" / path.lstrip("/")
        if not target.exists():
            response = await page.request.get(href)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(await response.body())
    await page.evaluate("() => document.querySelectorAll('script').forEach(s => s.remove())")
    (out / f"{name}.html").write_text(await page.content())
    manifest[name] = {"path": page.url.removeprefix(base), "file": f"{name}.html"}


async def capture_django(python: Path, name: str) -> None:
    out = SNAPSHOTS / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        shutil.copytree(ROOT / "tests" / "realapp" / "project", project)
        env = {
            **os.environ,
            "DESKAPP_DB": f"{tmp}/desk.sqlite3",
            "DESKAPP_ADMIN_PASSWORD": PASSWORD,
            "DESKAPP_CLERK_PASSWORD": PASSWORD + "-clerk",
            "PYTHONPATH": "",
        }
        for args in (["migrate", "--no-input", "-v", "0"], ["seed"]):
            subprocess.run([str(python), "manage.py", *args], cwd=project, env=env, check=True)
        port = free_port()
        command = [str(python), "manage.py", "runserver", "--noreload", "--insecure"]
        with serving([*command, f"127.0.0.1:{port}"], project, env, port) as base:
            async with open_page(chromium()) as page:
                manifest: dict[str, Any] = {}
                await page.goto(base + DJANGO_PAGES["login"])
                await snapshot(page, base, out, "login", manifest)
                await page.goto(base + DJANGO_PAGES["login"])
                await page.fill("#id_username", "admin")
                await page.fill("#id_password", PASSWORD)
                await page.click("[type=submit]")
                await page.goto(base + DJANGO_PAGES["changelist"])
                order = await page.evaluate(
                    "() => document.querySelector('#result_list tbody a').getAttribute('href')"
                    ".split('/').filter(Boolean).slice(-2)[0]"
                )
                for page_name, path in DJANGO_PAGES.items():
                    if page_name == "login":
                        continue
                    await page.goto(base + path.format(order=order))
                    await snapshot(page, base, out, page_name, manifest)
                (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


async def capture_flask_admin(python: Path, mode: str) -> None:
    out = SNAPSHOTS / f"flask-admin-{mode}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    port = free_port()
    env = {**os.environ, "SHOP_TEMPLATE_MODE": mode, "PYTHONPATH": ""}
    app = Path(__file__).with_name("shop_flask_admin.py")
    with serving([str(python), str(app), str(port)], ROOT, env, port) as base:
        async with open_page(chromium()) as page:
            manifest: dict[str, Any] = {}
            for page_name, path in FLASK_PAGES.items():
                await page.goto(base + path)
                await snapshot(page, base, out, page_name, manifest)
            (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


def chromium() -> str:
    return os.environ.get("SCRIPTCACHE_CHROMIUM_PATH", "/usr/bin/chromium")


async def main() -> None:
    await capture_django(venv_python("venv-dj42"), "django-4.2")
    await capture_django(venv_python("venv-dj52"), "django-5.2")
    for mode in ("bootstrap2", "bootstrap3", "bootstrap4"):
        await capture_flask_admin(venv_python("venv-fa"), mode)


if __name__ == "__main__":
    asyncio.run(main())
