"""The work dir on object storage: a real S3 API on loopback, the same run, cache and export as on disk."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pytest
import yaml
from typer.testing import CliRunner

from curation.cli import app
from curation.errors import MedcurateError
from curation.recipe import RecipeError, load_recipe
from curation.run import make_plan, run_recipe
from curation.storage import Location

from .s3_server import s3_server
from .test_recipe import files_of, small_recipe


@pytest.fixture(scope="module")
def s3():
    with s3_server() as server:
        yield server


def test_a_location_on_s3_writes_whole_files_lists_and_removes(s3):
    root = Location.of(s3.uri(s3.bucket(), "work"))
    assert str(root).startswith("s3://") and "?" not in str(root)  # messages show no endpoint options
    (root / "a" / "ledger.json").write_bytes("{\"ضغط الدم\": 1}".encode())
    (root / "a" / "part-1.parquet").write_table(pa.table({"lang": ["es", "zh", "ar"]}))
    (root / "a" / "part-0.parquet").write_table(pa.table({"lang": ["en"]}))
    assert [p.name for p in (root / "a").list()] == ["ledger.json", "part-0.parquet", "part-1.parquet"]
    assert [p.name for p in (root / "a").list("part-*.parquet")] == ["part-0.parquet", "part-1.parquet"]
    assert not [p for p in (root / "a").list() if ".tmp-" in p.name]  # written under a temporary name, moved
    again = Location.of((root / "a" / "part-1.parquet").uri)  # the uri rebuilds it elsewhere (a Ray worker)
    assert again.read_table()["lang"].to_pylist() == ["es", "zh", "ar"]
    assert (root / "a").is_dir() and not (root / "b").exists() and (root / "b").list() == []
    (root / "a").remove()
    assert not (root / "a").exists()
    (root / "a").remove()  # absent: nothing to do


def test_credentials_in_a_work_dir_uri_are_refused_naming_the_field(tmp_path, s3):
    uri = s3.uri("bucket", "work") + "&access_key=AKIA123&secret_key=hunter2"
    path = small_recipe(tmp_path, work_dir=uri)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    message = str(err.value)
    assert str(path) in message and "work_dir" in message and "line 3, work_dir" in message
    assert "AWS_ACCESS_KEY_ID" in message and "hunter2" not in message
    with pytest.raises(MedcurateError) as err:
        Location.of("s3://AKIA123:hunter2@bucket/work")
    assert "hunter2" not in str(err.value)


def test_a_recipe_with_its_work_dir_on_s3_runs_caches_and_exports_as_on_disk(tmp_path, s3):
    """Steps, dedupe index and rejects on S3; the export byte-identical to a run with a local work dir;
    a rerun reuses every entry from S3; an entry left unfinished (no done.json) is recomputed."""
    bucket = s3.bucket()
    path = small_recipe(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["steps"][-1]["config"]["index_dir"] = s3.uri(bucket, "dedupe-index")
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    on_disk = run_recipe(load_recipe(path))
    expected = files_of(tmp_path / "out")
    shutil.rmtree(tmp_path / "out")
    shutil.rmtree(tmp_path / "work")
    index = Location.of(s3.uri(bucket, "dedupe-index"))
    index.remove()  # the local run's index would make every record a duplicate of itself

    data["work_dir"] = s3.uri(bucket, "runs/small")
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    loaded = load_recipe(path)
    assert not loaded.work.local and loaded.work_dir == (tmp_path.parent / "work" / "small").resolve()
    first = run_recipe(loaded)
    assert first.exported and first.ledger.to_dict() == on_disk.ledger.to_dict()
    got = files_of(tmp_path / "out")
    assert got.keys() == expected.keys() and [k for k in got if got[k] != expected[k]] == []
    assert not (tmp_path / "work").exists()
    steps = Location.of(s3.uri(bucket, "runs/small")) / "steps"
    names = [p.name for p in steps.list()]
    assert len(names) == 5 and all((steps / n / "done.json").exists() for n in names)
    assert index.list("part-*.parquet") and (index / "index.json").exists()

    assert run_recipe(load_recipe(path)).ran == []  # all cached, on S3
    dedupe = make_plan(load_recipe(path)).steps[-1].entry
    (dedupe.path / "done.json").remove()  # as a run killed while committing dedupe leaves it
    index.remove()
    resumed = run_recipe(load_recipe(path), force=())
    assert resumed.ran == ["dedupe"] and "quality" in resumed.reused
    assert (dedupe.path / "done.json").exists()
    again = files_of(tmp_path / "out")
    assert [k for k in again if again[k] != expected[k]] == []


def test_plan_names_the_object_storage_work_dir_without_its_options(tmp_path, s3):
    path = small_recipe(tmp_path, work_dir=s3.uri(s3.bucket(), "planned"))
    result = CliRunner().invoke(app, ["plan", str(path)])
    assert result.exit_code == 0, result.output
    assert "s3://" in result.output and "endpoint_override" not in result.output


def test_an_unreachable_work_dir_fails_before_any_step_naming_it(tmp_path, s3):
    path = small_recipe(tmp_path, work_dir=s3.uri("no-such-bucket", "work"))
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 2, result.output
    assert "work dir s3://no-such-bucket/work: cannot be written" in result.output
    assert "no-such-bucket" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
