"""Rows from a hub's local cache, a folder loaded by `datasets`, a cloud path; clear words on a miss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubefactory.runtime.data.dataset_info import DatasetAttr
from kubefactory.runtime.data.errors import DataError
from kubefactory.runtime.data.sources import open_source, read_cloud_json

ROWS = [{"instruction": "q1", "output": "a1"}, {"instruction": "q2", "output": "a2"}]


@pytest.fixture(autouse=True)
def _datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))


def fake_hub_cache(root: Path, repo: str, files: dict[str, str]) -> Path:
    """The layout huggingface_hub keeps: refs/main names a snapshot folder holding the files."""
    repo_dir = root / ("datasets--" + repo.replace("/", "--"))
    revision = "0" * 40
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(revision, encoding="utf-8")
    snapshot = repo_dir / "snapshots" / revision
    for name, text in files.items():
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / name).write_text(text, encoding="utf-8")
    return snapshot


def jsonl(rows: list[dict[str, str]]) -> str:
    return "\n".join(json.dumps(r) for r in rows) + "\n"


def test_hub_dataset_is_read_from_the_local_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    fake_hub_cache(tmp_path / "hub", "org/demo", {"train.jsonl": jsonl(ROWS), "test.jsonl": jsonl(ROWS[:1])})
    source = open_source(DatasetAttr(name="d", hf_hub_url="org/demo"), str(tmp_path))
    assert list(source.rows) == ROWS
    assert not source.local and source.files
    test_split = open_source(DatasetAttr(name="d", hf_hub_url="org/demo", split="test"), str(tmp_path))
    assert list(test_split.rows) == ROWS[:1]


def test_hub_subfolder_is_the_folder_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    fake_hub_cache(
        tmp_path / "hub", "org/demo", {"en/train.jsonl": jsonl(ROWS), "fr/train.jsonl": jsonl(ROWS[1:])}
    )
    source = open_source(DatasetAttr(name="d", hf_hub_url="org/demo", folder="fr"), str(tmp_path))
    assert list(source.rows) == ROWS[1:]


def test_hub_dataset_missing_from_the_cache_says_how_to_prefetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(DataError) as err:
        open_source(DatasetAttr(name="d", hf_hub_url="org/absent"), str(tmp_path))
    message = str(err.value)
    assert "dataset 'd': hf_hub_url 'org/absent' is not in the local hub cache" in message
    assert "could not reach the hub" in message
    assert "hf download org/absent --repo-type dataset" in message


def test_modelscope_dataset_from_its_cache_or_a_clear_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms"))
    attr = DatasetAttr(name="d", ms_hub_url="org/demo")
    with pytest.raises(
        DataError,
        match="ms_hub_url 'org/demo' is not in the local ModelScope cache .*`modelscope download --dataset org/demo",
    ):
        open_source(attr, str(tmp_path))
    folder = tmp_path / "ms" / "datasets" / "org" / "demo"
    folder.mkdir(parents=True)
    (folder / "train.jsonl").write_text(jsonl(ROWS), encoding="utf-8")
    assert list(open_source(attr, str(tmp_path)).rows) == ROWS


def test_script_url_folder_is_loaded_and_a_script_is_refused(tmp_path: Path) -> None:
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "train.jsonl").write_text(jsonl(ROWS), encoding="utf-8")
    source = open_source(DatasetAttr(name="d", script_url="local"), str(tmp_path))
    assert list(source.rows) == ROWS and source.local
    (tmp_path / "local" / "local.py").write_text("# a loading script", encoding="utf-8")
    with pytest.raises(
        DataError, match="script_url 'local' is a loading script; datasets 4 and later no longer run"
    ):
        open_source(DatasetAttr(name="d", script_url="local"), str(tmp_path))
    with pytest.raises(DataError, match="script_url folder not found"):
        open_source(DatasetAttr(name="d", script_url="absent"), str(tmp_path))


def test_cloud_files_json_and_jsonl() -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/bucket/data/a.json", json.dumps(ROWS[:1]).encode())
    fs.pipe("/bucket/data/b.jsonl", jsonl(ROWS[1:]).encode())
    fs.pipe("/bucket/data/notes.txt", b"skip me")
    assert read_cloud_json("memory://bucket/data", "d") == ROWS
    source = open_source(DatasetAttr(name="d", cloud_file_name="memory://bucket/data/a.json"), "unused")
    assert list(source.rows) == ROWS[:1] and not source.local


def test_cloud_errors_name_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("KUBEFACTORY_FETCH_CACHE", str(tmp_path))
    with pytest.raises(
        DataError, match="cloud_file_name 's3://bucket/a.json'.*cannot reach http://127.0.0.1:9"
    ):
        read_cloud_json("s3://bucket/a.json", "d")
    with pytest.raises(DataError, match="cloud_file_name 'gs://bucket/a.json'.*install gcsfs"):
        read_cloud_json("gs://bucket/a.json", "d")
    with pytest.raises(
        DataError, match="cloud_file_name 'bucket/a.json' needs a protocol, e.g. s3:// or gs://"
    ):
        read_cloud_json("bucket/a.json", "d")
    with pytest.raises(DataError, match="no .json or .jsonl files at cloud_file_name 'memory://empty'"):
        import fsspec

        fsspec.filesystem("memory").pipe("/empty/readme.md", b"x")
        read_cloud_json("memory://empty", "d")


def test_modelers_dataset_missing_from_its_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENMIND_CACHE", str(tmp_path / "om"))
    with pytest.raises(
        DataError, match="om_hub_url 'org/demo' is not in the local Modelers cache .*could not reach Modelers"
    ):
        open_source(DatasetAttr(name="d", om_hub_url="org/demo"), str(tmp_path))


def test_a_split_the_folder_lacks_is_named(tmp_path: Path) -> None:
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "train.jsonl").write_text(jsonl(ROWS), encoding="utf-8")
    with pytest.raises(
        DataError, match="dataset 'd': cannot load .*local \\(subset None, folder None, split 'validation'\\)"
    ):
        open_source(DatasetAttr(name="d", script_url="local", split="validation"), str(tmp_path))


def test_cloud_file_that_is_not_json_is_named() -> None:
    import fsspec

    fsspec.filesystem("memory").pipe("/broken/a.json", b"[{oops")
    with pytest.raises(DataError, match="dataset 'd': memory://.*broken/a.json is not valid JSON"):
        read_cloud_json("memory://broken/a.json", "d")
