"""The search engine as an MCP server: `search` (ranked results with snippets) and `open_page` (a page's text,
one window at a time, with its links), over one corpus: the documents installed on this machine, or a generated
fictional world.

    python -m sandboxes.search.server --corpus packages [--exclude 'pypi/acme-*' ...] [--index FILE]
    python -m sandboxes.search.server --corpus world --seed 7 [--transport streamable-http --port N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel
from mcp.server.mcpserver.exceptions import ToolError

from sandboxes.search.index import PAGE_CHARS, SearchIndex

MAX_RESULTS = 20
# Bump when corpora.py or world.py change which pages a corpus holds: an --index file built under the older rules is
# then built again (a rule that leaves private pages out must leave them out of the files built before it too).
CORPUS_RULES = 1


def index_settings(corpus: str, seed: int, exclude: list[str] | None = None) -> dict:
    """What decides an index's pages, besides what the machine has installed (recorded in an --index file)."""
    if corpus == "world":
        return {"corpus": corpus, "rules": CORPUS_RULES, "seed": seed}
    # Globs match case-blind and in any order: the same set leaves the same pages out.
    return {"corpus": corpus, "rules": CORPUS_RULES, "exclude": sorted({glob.lower() for glob in exclude or ()})}


def build_index(corpus: str, seed: int, path: str | None = None, exclude: list[str] | None = None) -> SearchIndex:
    built_from = index_settings(corpus, seed, exclude)
    if corpus == "packages":
        from sandboxes.search.corpora import package_pages
        return SearchIndex.build(package_pages(exclude or ()), path, built_from)
    if exclude:
        raise ValueError(f"--exclude applies to the packages corpus, not to {corpus!r}")
    if corpus == "world":
        from sandboxes.search.world import generate, pages
        return SearchIndex.build(pages(generate(seed)), path, built_from)
    raise ValueError(f"unknown corpus {corpus!r}; use 'packages' or 'world'")


def load_index(corpus: str, seed: int, path: str, exclude: list[str] | None = None) -> SearchIndex:
    """The index in the file at `path`, built there when missing, or built again when it was built from other
    settings (another corpus, seed or --exclude, older corpus rules): a rerun with a new --exclude must not serve
    the pages it names. Rebuilding costs what the first build did (about 3 s for the packages corpus).
    Raises ValueError for a file that is no search index."""
    if Path(path).exists():
        index = SearchIndex.open(path)
        try:
            built_from = index.built_from()
        except ValueError as e:
            index.db.close()
            raise ValueError(f"--index {path}: {e}; remove it or name another file") from None
        wanted = index_settings(corpus, seed, exclude)
        if built_from == wanted:
            return index
        index.db.close()
        print(f"search index {path} was built from {built_from or 'unrecorded settings'}, not {wanted}: "
              f"building it again", file=sys.stderr)
    return build_index(corpus, seed, path, exclude)


class Hit(BaseModel):
    page_id: str
    title: str
    url: str
    snippet: str


class SearchResults(BaseModel):
    query: str
    total: int
    offset: int
    results: list[Hit]


class PageWindow(BaseModel):
    page_id: str
    title: str
    url: str
    offset: int
    text: str
    next_offset: int | None
    links: list[str]


def make_server(index: SearchIndex, name: str) -> MCPServer:
    # The version names the corpus served (the collector records name@version as the environment's digest).
    server = MCPServer(name, version=index.digest(),
                       instructions="Search the corpus with `search`, then read a result with `open_page`.")

    @server.tool(description="Full-text search. Returns the best matching pages (id, title, url, and a snippet "
                             "with the matched words in **bold**), best first; `offset` pages through results.")
    def search(query: str, limit: int = 5, offset: int = 0) -> SearchResults:
        if not 1 <= limit <= MAX_RESULTS:
            raise ToolError(f"limit must be between 1 and {MAX_RESULTS}, got {limit}")
        if offset < 0:
            raise ToolError(f"offset must be >= 0, got {offset}")
        total, results = index.search(query, limit, offset)
        return SearchResults(query=query, total=total, offset=offset, results=[Hit(**r) for r in results])

    @server.tool(description="Open a page by its id (or url) from the search results. Long pages come in windows "
                             f"of {PAGE_CHARS} characters: pass `next_offset` as `offset` to read on.")
    def open_page(page_id: str, offset: int = 0) -> PageWindow:
        page = index.page(page_id)
        if page is None:
            raise ToolError(f"no page with id or url {page_id!r}")
        if not 0 <= offset <= len(page.text):
            raise ToolError(f"offset {offset} is outside the page (length {len(page.text)})")
        end = min(len(page.text), offset + PAGE_CHARS)
        return PageWindow(page_id=page.page_id, title=page.title, url=page.url, offset=offset,
                          text=page.text[offset:end], next_offset=end if end < len(page.text) else None,
                          links=page.links)

    return server


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a search corpus over MCP.")
    parser.add_argument("--corpus", choices=["packages", "world"], required=True)
    parser.add_argument("--seed", type=int, default=7, help="World seed (corpus 'world').")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="Corpus 'packages': leave out the pages whose id matches GLOB (pypi/NAME, "
                             "debian/PACKAGE/README*), e.g. packages from a private index; repeatable.")
    parser.add_argument("--index", help="Index file to build (if missing, or built from other settings) and use; "
                                        "default: in memory.")
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    if args.exclude and args.corpus != "packages":
        parser.error(f"--exclude applies to --corpus packages, not to {args.corpus!r}")
    if args.index:
        try:
            index = load_index(args.corpus, args.seed, args.index, args.exclude)
        except ValueError as e:
            parser.error(str(e))
    else:
        index = build_index(args.corpus, args.seed, exclude=args.exclude)
    name = f"worldline-search-{args.corpus}" + (f"-{args.seed}" if args.corpus == "world" else "")
    server = make_server(index, name)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
