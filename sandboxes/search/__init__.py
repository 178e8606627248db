"""The search domain: a real full-text search engine (SQLite FTS5) over real local corpora, served over MCP."""
