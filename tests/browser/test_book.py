"""`make book` in a real browser: a small book (01 and 11), served on 127.0.0.1, every page checked.

Every page must load with no console error and no failed or off-site request but MathJax's
(the book is offline), every image must load, every internal link must lead to a page (and anchor) that
exists, and no solution line or wrong-answers
cell of the masters may appear.
"""

from __future__ import annotations

import functools
import http.server
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse

import nbformat
import pytest
from browser_helpers import ROOT

NOTEBOOKS = ("01_pixels", "11_deep_dream")
MATHJAX = "https://cdn.jsdelivr.net/npm/mathjax@"


@pytest.fixture(scope="module")
def book(artefacts) -> Path:
    """Build the small book with the course's command and return its html folder."""
    out = artefacts / "book"
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "cvcourse.book", "--profile", "smoke", "--out", str(out), *NOTEBOOKS], cwd=ROOT, check=True)
    print(f"book of {len(NOTEBOOKS)} notebooks built in {time.monotonic() - start:.0f} s")
    return out / "html"


@pytest.fixture(scope="module")
def server(book):
    """Serve the book's html folder on 127.0.0.1; yields the base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def _pages(book: Path) -> list[str]:
    return sorted(str(p.relative_to(book)) for p in book.rglob("*.html") if not p.relative_to(book).parts[0].startswith("_"))


def _ids(html: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html))


def test_the_book_has_a_page_per_module_and_a_start_page(book):
    pages = _pages(book)
    for stem in NOTEBOOKS:
        assert f"{stem}.html" in pages
    index = (book / "index.html").read_text(encoding="utf-8")
    assert "The modules" in index and "latest course report" in index
    for stem in NOTEBOOKS:
        page = (book / f"{stem}.html").read_text(encoding="utf-8")
        assert "Provenance of this page" in page and "smoke" in page and "tensorflow" in page and "commit" in page


def test_no_solution_and_no_wrong_answers_cell_is_published(book):
    for stem in NOTEBOOKS:
        master = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
        text = re.sub(r"<[^>]+>", "", (book / f"{stem}.html").read_text(encoding="utf-8"))
        text = re.sub(r"\s+", " ", text.replace("&quot;", '"').replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
        assert "BEGIN SOLUTION" not in text and "solution removed from the book" in text
        secret = set()
        for cell in master.cells:
            tags = cell.metadata.get("tags", [])
            lines = cell.source.splitlines()
            if "wrong-answers" in tags:
                secret |= {line.strip() for line in lines if len(line.strip()) >= 25}
            inside = False
            for line in lines:
                if line.strip() in ("# BEGIN SOLUTION", "# END SOLUTION"):
                    inside = line.strip() == "# BEGIN SOLUTION"
                elif inside and len(line.strip()) >= 25:
                    secret.add(line.strip())
        outside = {line.strip() for cell in master.cells if "wrong-answers" not in cell.metadata.get("tags", [])
                   for line in cell.source.splitlines() if "SOLUTION" not in line}
        leaked = sorted(line for line in secret if re.sub(r"\s+", " ", line) in text and line not in outside)
        assert secret and not leaked, f"{stem}: published solution or wrong-answers lines: {leaked[:3]}"


def test_every_page_loads_cleanly_with_its_images_math_and_links(browser, book, server, artefacts):
    problems: list[str] = []
    mathjax: list[str] = []
    links: set[str] = set()
    pages = _pages(book)
    for name in pages:
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.on("console", lambda msg, name=name: msg.type == "error" and problems.append(f"{name}: console error: {msg.text}"))
        page.on("pageerror", lambda error, name=name: problems.append(f"{name}: page error: {error}"))
        page.on("requestfailed", lambda request, name=name: problems.append(f"{name}: request failed: {request.url}"))
        page.on("response", lambda response, name=name: response.status >= 400 and problems.append(
            f"{name}: HTTP {response.status} for {response.url}"))
        # MathJax is the one asset the pages take from elsewhere (Sphinx's default CDN): answered here
        # with an empty script, as the test runs offline; any other off-site request is a failure.
        page.route(MATHJAX + "**", lambda route: (mathjax.append(route.request.url), route.fulfill(
            status=200, content_type="application/javascript", body="/* MathJax, offline */")))
        page.on("request", lambda request, name=name: not request.url.startswith((server, "data:", "blob:", MATHJAX))
                and problems.append(f"{name}: off-site request (the book must work offline): {request.url}"))
        page.goto(urljoin(server, name), wait_until="load")
        page.evaluate("async () => { for (const img of document.images) { img.loading = 'eager'; try { await img.decode(); } catch (e) {} } }")
        images = page.evaluate("() => [...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])")
        problems += [f"{name}: image did not load: {src}" for src, ok in images if not ok]
        if name.startswith(NOTEBOOKS):
            assert len(images) >= 5, f"{name}: only {len(images)} images: the executed figures are missing"
            assert page.evaluate("() => document.querySelectorAll('.math').length") > 0, f"{name}: no formulas found"
        links |= set(page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)"))
        page.screenshot(path=artefacts / f"book-{Path(name).stem}.png")
        page.close()
    for link in sorted(links):
        if not link.startswith(server):
            continue
        url, fragment = urldefrag(link)
        path = unquote(urlparse(url).path)[1:] or "index.html"
        target = book / path
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            problems.append(f"broken internal link: {link}")
        elif fragment and target.suffix == ".html" and unquote(fragment) not in _ids(target.read_text(encoding="utf-8")):
            problems.append(f"internal link to a missing anchor: {link}")
    assert links, "no links found"
    assert mathjax, "no page asked for MathJax, yet the modules have formulas"
    assert not problems, "\n".join(problems[:30])
