"""A small Dockerfile reader: enough to key the build cache on what an image copies, and for tests.

It follows the Dockerfile reference for what our files use: ``\\`` continuations, ``#`` comments
(also between continued lines), parser directives, ``--flag=value`` options, JSON (exec) form.
Heredocs are refused rather than misread.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

INSTRUCTIONS = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
        "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
    }
)  # fmt: skip
_FLAG = re.compile(r"--([a-z-]+)(?:=(\S*))?")


class DockerfileError(ValueError):
    """A Dockerfile this reader cannot take; the message names the file and line."""


@dataclass(frozen=True)
class Instruction:
    command: str  # upper case
    arguments: str  # after the flags, as written (continuations joined)
    flags: dict[str, str] = field(default_factory=dict)
    line: int = 0

    def words(self) -> list[str]:
        """Arguments as a list: JSON form when it parses as a list of strings, else split on blanks."""
        text = self.arguments.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                value = None
            if isinstance(value, list) and all(isinstance(item, str) for item in value):
                return value
        return text.split()


@dataclass(frozen=True)
class Dockerfile:
    path: str
    instructions: tuple[Instruction, ...]

    def of(self, command: str) -> list[Instruction]:
        return [item for item in self.instructions if item.command == command]

    def global_args(self) -> dict[str, str]:
        """ARGs before the first FROM, with their defaults ("" when none)."""
        out: dict[str, str] = {}
        for item in self.instructions:
            if item.command == "FROM":
                break
            if item.command == "ARG":
                name, _, default = item.arguments.strip().partition("=")
                out[name] = default.strip().strip('"')
        return out

    def stages(self) -> list[list[Instruction]]:
        """The instructions of each stage, its FROM first."""
        stages: list[list[Instruction]] = []
        for item in self.instructions:
            if item.command == "FROM":
                stages.append([item])
            elif stages:
                stages[-1].append(item)
        return stages

    def final_stage(self) -> list[Instruction]:
        stages = self.stages()
        if not stages:
            raise DockerfileError(f"{self.path}: no FROM")
        return stages[-1]

    def final_user(self) -> str | None:
        users = [item.arguments.strip() for item in self.final_stage() if item.command == "USER"]
        return users[-1] if users else None

    def context_sources(self) -> list[str]:
        """Paths that COPY/ADD take from the build context (not from another stage or a URL)."""
        out: list[str] = []
        for item in self.instructions:
            if item.command in ("COPY", "ADD") and "from" not in item.flags:
                words = item.words()
                if len(words) < 2:
                    raise DockerfileError(
                        f"{self.path}:{item.line}: {item.command} needs a source and a destination"
                    )
                out += [word for word in words[:-1] if "://" not in word and word not in out]
        return out


def parse(text: str, path: str = "Dockerfile") -> Dockerfile:
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    directives_allowed = True
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending:
            if directives_allowed and re.match(r"#\s*[a-zA-Z]+\s*=", stripped):
                continue  # a parser directive (# syntax=..., # escape=...)
            directives_allowed = False
            if not stripped or stripped.startswith("#"):
                continue
            start = number
        elif stripped.startswith("#") or not stripped:
            continue  # comments and blank lines inside a continued instruction
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].rstrip())
            continue
        pending.append(stripped)
        instructions.append(_instruction(" ".join(pending), path, start))
        pending = []
    if pending:
        raise DockerfileError(f"{path}:{start}: the last instruction ends with a continuation")
    if not instructions or instructions[0].command not in ("FROM", "ARG"):
        raise DockerfileError(f"{path}: must start with FROM (or ARG before FROM)")
    return Dockerfile(path, tuple(instructions))


def _instruction(text: str, path: str, line: int) -> Instruction:
    command, _, rest = text.partition(" ")
    command = command.upper()
    if command not in INSTRUCTIONS:
        raise DockerfileError(f"{path}:{line}: unknown instruction {command!r}")
    if "<<" in rest and command in ("RUN", "COPY", "ADD"):
        raise DockerfileError(f"{path}:{line}: heredocs are not supported here")
    flags: dict[str, str] = {}
    rest = rest.strip()
    while command in ("FROM", "RUN", "COPY", "ADD") and (match := _FLAG.match(rest)):
        name, value = match.group(1), match.group(2) or ""
        flags[name] = value if name not in flags else f"{flags[name]} {value}"  # RUN takes several --mount
        rest = rest[match.end() :].lstrip()
    if not rest and command not in ("RUN",):
        raise DockerfileError(f"{path}:{line}: {command} has no arguments")
    return Instruction(command, rest, flags, line)


def load(path: str) -> Dockerfile:
    with open(path, encoding="utf-8") as handle:
        return parse(handle.read(), path)
