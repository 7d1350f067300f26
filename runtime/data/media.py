"""Images, videos and audios of a row: placeholders counted against the media lists, paths resolved."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .dataset_info import DatasetAttr
from .errors import RowError
from .example import Example

PLACEHOLDERS = {"images": "<image>", "videos": "<video>", "audios": "<audio>"}


def check_placeholders(example: Example, attr: DatasetAttr) -> None:
    """Each declared media column must hold exactly one item per placeholder in the messages.

    Only columns the dataset declares are checked: a text dataset may mention "<image>" freely.
    """
    declared = [
        (kind, placeholder, column)
        for kind, placeholder in PLACEHOLDERS.items()
        if (column := getattr(attr.columns, kind))
    ]
    if not declared:
        return
    texts = [message.content for message in (*example.prompt, *example.response)]
    for kind, placeholder, column in declared:
        count = sum(text.count(placeholder) for text in texts)
        items = len(getattr(example, kind))
        if count != items:
            raise RowError(
                f"{count} {placeholder} placeholder{'s' if count != 1 else ''} in the messages but {items} "
                f"item{'s' if items != 1 else ''} in column '{column}'; write one {placeholder} per item"
            )


@dataclass
class MediaResolver:
    """Relative paths resolve against media_dir (default: dataset_dir), as LLaMA-Factory does: a
    path that does not exist there is kept as written (it may be absolute or a URL)."""

    media_dir: str
    missing: list[str] = field(default_factory=list)

    def resolve(self, example: Example) -> None:
        example.images = [self._path(item) for item in example.images]
        example.videos = [self._path(item) for item in example.videos]
        example.audios = [self._path(item) for item in example.audios]

    def _path(self, item: object) -> object:
        if isinstance(item, list):  # a video given as a list of frame files
            return [self._path(frame) for frame in item]
        if not isinstance(item, str):
            return item  # already loaded data (e.g. image bytes from a parquet file)
        joined = os.path.join(self.media_dir, item)
        if os.path.isfile(joined):
            return joined
        if not os.path.exists(item):
            self.missing.append(item)
        return item
