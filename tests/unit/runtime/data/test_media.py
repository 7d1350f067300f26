"""Media placeholders are counted against the media lists; relative paths resolve against media_dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubefactory.runtime.data.dataset_info import DatasetAttr
from kubefactory.runtime.data.errors import RowError
from kubefactory.runtime.data.example import Example, Message
from kubefactory.runtime.data.media import MediaResolver, check_placeholders

WITH_MEDIA = DatasetAttr(name="d", columns={"images": "images", "videos": "videos", "audios": "audios"})  # type: ignore[arg-type]


def example(text: str, images: int = 0, videos: int = 0, audios: int = 0) -> Example:
    return Example(
        [Message("user", text)], [Message("assistant", "a")],
        images=["i.png"] * images, videos=["v.mp4"] * videos, audios=["a.wav"] * audios,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "counts", "message"),
    [
        (
            "<image><image>hi",
            (1, 0, 0),
            "2 <image> placeholders in the messages but 1 item in column 'images'",
        ),
        ("hi", (1, 0, 0), "0 <image> placeholders in the messages but 1 item in column 'images'"),
        ("<video>", (0, 0, 0), "1 <video> placeholder in the messages but 0 items in column 'videos'"),
        ("<audio><audio>", (0, 0, 1), "2 <audio> placeholders in the messages but 1 item in column 'audios'"),
    ],
)
def test_placeholder_counts_must_match(text: str, counts: tuple[int, int, int], message: str) -> None:
    with pytest.raises(RowError, match=message):
        check_placeholders(example(text, *counts), WITH_MEDIA)


def test_matching_counts_and_undeclared_columns_pass() -> None:
    check_placeholders(example("<image>a<video><audio>", 1, 1, 1), WITH_MEDIA)
    check_placeholders(
        example("a text about <image> tags"), DatasetAttr(name="d")
    )  # no images column: plain text


def test_paths_resolve_against_media_dir_and_unknown_ones_stay(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "1.jpg").write_bytes(b"x")
    resolver = MediaResolver(str(tmp_path))
    item = Example([], [], images=["imgs/1.jpg", "http://x/2.jpg"], videos=[["imgs/1.jpg", "imgs/1.jpg"]])
    resolver.resolve(item)
    assert item.images == [str(tmp_path / "imgs" / "1.jpg"), "http://x/2.jpg"]
    assert item.videos == [[str(tmp_path / "imgs" / "1.jpg")] * 2]
    assert resolver.missing == ["http://x/2.jpg"]
