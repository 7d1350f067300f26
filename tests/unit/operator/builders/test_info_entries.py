"""A Dataset spec as dataset_info.json entries, source by source."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.operator.api.dataset import DatasetSpec
from kubefactory.operator.builders.info_entries import prepared_entry, source_entry

CASES = [
    ("pvc file", {"pvc": {"claimName": "raw", "path": "chats/support.jsonl"}}, {}, {"file_name": "chats/support.jsonl"}, None),
    ("configMap key", {"configMap": {"name": "cm", "key": "identity.json"}}, {}, {"file_name": "identity.json"}, None),
    ("configMap every key", {"configMap": {"name": "cm"}}, {}, {"file_name": "."}, None),
    ("hub", {"uri": "hf://llamafactory/alpaca_en"}, {"split": "validation"}, {"hf_hub_url": "llamafactory/alpaca_en", "split": "validation"}, None),
    ("hub subset", {"uri": "hf://org/data"}, {"subset": "en"}, {"hf_hub_url": "org/data", "split": "train", "subset": "en"}, None),
    ("bucket", {"uri": "s3://bucket/chats/"}, {}, {"cloud_file_name": "s3://bucket/chats/"}, None),
    ("https", {"uri": "https://example.com/d/data.jsonl?x=1"}, {}, {"file_name": "data.jsonl"}, "https://example.com/d/data.jsonl?x=1"),
    ("https typed", {"uri": "https://example.com/export"}, {"fileType": "csv"}, {"file_name": "export.csv"}, "https://example.com/export"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("source", "extra", "where", "download"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_source_entry(
    source: dict[str, Any], extra: dict[str, Any], where: dict[str, Any], download: str | None
) -> None:
    spec = DatasetSpec.model_validate({"source": source, **extra})
    wanted = source_entry(spec)
    assert wanted.entry == {**where, "formatting": "alpaca"}
    assert wanted.download == download


def test_reading_options_carry_over_in_snake_case() -> None:
    spec = DatasetSpec.model_validate(
        {
            "source": {"configMap": {"name": "cm"}},
            "formatting": "sharegpt",
            "ranking": True,
            "columns": {"messages": "conversations", "chosen": "better", "rejected": "worse", "ktoTag": "ok"},
            "tags": {"roleTag": "role", "userTag": "user"},
            "numSamples": 100,
        }
    )
    reading = {
        "formatting": "sharegpt",
        "ranking": True,
        "columns": {"messages": "conversations", "chosen": "better", "rejected": "worse", "kto_tag": "ok"},
        "tags": {"role_tag": "role", "user_tag": "user"},
    }
    assert source_entry(spec).entry == {"file_name": ".", **reading}
    # the prepared copy is read the same way, sampled as asked, from its JSON lines
    assert prepared_entry(spec, "/kubefactory/datasets/x/abc/") == {
        "file_name": "/kubefactory/datasets/x/abc/data.jsonl",
        **reading,
        "num_samples": 100,
    }
