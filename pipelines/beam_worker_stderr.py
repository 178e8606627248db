"""Imported first by each worker process a local curation run starts (Beam's --beam_plugins, set by
pipelines.curate.pipeline_options): the worker's stderr is the user's terminal, and Beam prints a failed bundle's
traceback there before the command can say the error in one line (pipelines.os_errors.WithoutDiskTracebacks)."""

import sys

from pipelines.os_errors import WithoutDiskTracebacks

if not isinstance(sys.stderr, WithoutDiskTracebacks):
    sys.stderr = WithoutDiskTracebacks(sys.stderr)
