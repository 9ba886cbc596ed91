"""Check the internal links of the built site: every relative ``href`` and ``src``
names a file of the build, and every ``#fragment`` an id on its page.

Run after ``sphinx-build``: ``python docs/check_links.py [docs/_build/html]``. Links
with a scheme (``https:``, ``mailto:``) are counted, not fetched: CI has no network.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name in ("href", "src") and value and tag in ("a", "img", "link"):
                self.links.append(value)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def broken_links(root: Path) -> tuple[list[str], int, int]:
    pages = {
        path: parse(path)
        for path in root.rglob("*.html")
        if "_static" not in path.relative_to(root).parts  # the theme's templates
    }
    broken, internal, external = [], 0, 0
    for path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                external += 1
                continue
            internal += 1
            target = path if not parts.path else (path.parent / unquote(parts.path))
            target = target.resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(root)}: {link}"
            if not target.exists():
                broken.append(f"{where} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{where} (no id {parts.fragment!r})")
    return broken, internal, external


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "docs/_build/html").resolve()
    if not (root / "index.html").is_file():
        print(f"check_links: no built site at {root} (run sphinx-build first)")
        return 2
    broken, internal, external = broken_links(root)
    for line in broken:
        print(f"broken: {line}")
    print(
        f"check_links: {internal} internal links, {len(broken)} broken; "
        f"{external} external links not fetched"
    )
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
