"""Exports of curated transitions into formats read outside worldline (DESIGN.md "Formats that matter outside the
project"): AgentWorldBench JSONL lines and ATIF v1.4 trajectories. Each works on the rows of one episode."""
