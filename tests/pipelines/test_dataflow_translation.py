"""The pipeline translates for DataflowRunner and packages from pyproject.toml, offline: `--dry_run` builds the
job (runner overrides, portable proto, staged sdist) and stops before anything is submitted."""

from pathlib import Path

from apache_beam.portability.api import beam_runner_api_pb2

from pipelines.curate import build_pipeline
from transforms.curate import CurateOptions

REPO = Path(__file__).resolve().parents[2]
DATAFLOW_ARGS = [
    "--runner=DataflowRunner", "--project=worldline-test", "--region=us-central1", "--job_name=worldline-curate",
    "--temp_location=gs://worldline-test-temp/tmp", "--staging_location=gs://worldline-test-temp/staging",
    "--dry_run=True", "--no_auth", "--sdk_location=container", f"--setup_file={REPO / 'pyproject.toml'}",
]


def test_pipeline_translates_for_dataflow_without_submitting():
    pipeline = build_pipeline("gs://worldline-test-raw/collection", "gs://worldline-test-out/shards",
                              CurateOptions(), DATAFLOW_ARGS)
    result = pipeline.run()
    assert result.job.proto.name == "worldline-curate"
    proto = pipeline.runner.proto_pipeline
    names = {t.unique_name for t in proto.components.transforms.values()}
    for step in ("Curate/ReadRaw/Spread", "Curate/Prepare", "Curate/Dedupe/GroupPartitions", "Curate/Dedupe/Resolve",
                 "Curate/Dedupe/Sketches", "Curate/Dedupe/Verify", "Curate/Finish",
                 "Curate/WriteDedupe", "Curate/WritePrepareDeadLetters", "Curate/WriteFinishDeadLetters",
                 "CommitParts"):
        assert any(name == step or name.startswith(step + "/") for name in names), step
    # Every grouping is a real shuffle Dataflow can run, and the workers get worldline as a staged sdist.
    urns = {t.spec.urn for t in proto.components.transforms.values()}
    assert "beam:transform:group_by_key:v1" in urns
    [environment] = proto.components.environments.values()
    staged = []
    for artifact in environment.dependencies:
        payload = beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(artifact.role_payload)
        staged.append(payload.staged_name)
    assert "workflow.tar.gz" in staged, staged


WORKER_DOCKERFILE = REPO / "docker" / "dataflow-worker" / "Dockerfile"


def test_worker_image_matches_the_submitting_beam_and_python():
    """Dataflow refuses (or worse, half-runs) a job whose worker SDK differs from the submitter's: the image's base
    must follow the pinned Beam and the venv's Python, and it must give Arrow the pool local runs use."""
    import sys

    import apache_beam

    lines = [line.split() for line in WORKER_DOCKERFILE.read_text().splitlines() if line and not line.startswith("#")]
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert ["FROM", f"apache/beam_python{python}_sdk:{apache_beam.__version__}"] in lines
    assert ["ENV", "ARROW_DEFAULT_MEMORY_POOL=jemalloc"] in lines


def test_a_custom_worker_image_reaches_the_job():
    image = "us-central1-docker.pkg.dev/worldline-test/images/worldline-worker:test"
    pipeline = build_pipeline("gs://worldline-test-raw/collection", "gs://worldline-test-out/shards",
                              CurateOptions(), [*DATAFLOW_ARGS, f"--sdk_container_image={image}"])
    pipeline.run()
    [environment] = pipeline.runner.proto_pipeline.components.environments.values()
    payload = beam_runner_api_pb2.DockerPayload.FromString(environment.payload)
    assert payload.container_image == image


def test_the_curate_command_with_dry_run_translates_and_says_so():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input",
                             "gs://worldline-test-raw/collection", "--output", "gs://worldline-test-out/shards",
                             *DATAFLOW_ARGS], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Dry run: the job was translated and nothing was submitted, curated or written." in result.stderr
    assert "Traceback" not in result.stderr
