"""The model registry: which encoder serves, which served before, and the A/B test running.

``MODELS_DIR/registry.json`` (DAOGOU_MODELS_DIR) is a small JSON object that ``daogou model
promote|rollback|ab`` writes and every in-process ranker (``core.model_router``) reads:

    {"version": 3,
     "serving": {"ref": "minilm-20261102-101500-ab12cd", "since": "2026-11-02T10:20:00+00:00",
                 "metrics": {...}},
     "history": [{"ref": "", "since": ..., "metrics": {...}}, ...],   # oldest first
     "ab": null | {"candidate": "...", "share": 0.5, "experiment": "ab-...", "started": "..."}}

A model *ref* is the name of an encoder directory inside MODELS_DIR (a name, not a path, so
the file means the same on every mount of that directory), or "" for the configured default
(DAOGOU_ENCODER; the bundled MiniLM when that is empty).  No file, or no ``serving``, means
the default serves.  Writes happen under an ``fcntl`` lock on ``MODELS_DIR/registry.lock``
and replace the file atomically (a temporary file, fsync, ``os.replace``), so a reader sees
the old or the new registry, never half of one; ``version`` goes up by one with each write.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REGISTRY_FILE = "registry.json"
LOCK_FILE = "registry.lock"
DEFAULT_REF = ""
DEFAULT_NAME = "default"  # how the default model is named in hits, events and the CLI
HISTORY_LIMIT = 50
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,199}")


class RegistryError(ValueError):
    """A registry file or model ref that cannot be used; the message says which and why."""


def model_name(ref: str) -> str:
    """The readable name of ``ref``: the directory name, or "default"."""
    return ref or DEFAULT_NAME


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Serving:
    """One model's time in service: its ref, when it was promoted, and the figures then."""

    ref: str
    since: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "since": self.since, "metrics": self.metrics}


@dataclass(frozen=True)
class ABTest:
    """An A/B test: users whose hash under ``experiment`` falls below ``share`` get ``candidate``."""

    candidate: str
    share: float
    experiment: str
    started: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"candidate": self.candidate, "share": self.share, "experiment": self.experiment,
                "started": self.started}


@dataclass(frozen=True)
class RegistryState:
    """What registry.json says; the empty state (version 0) when there is no file."""

    version: int = 0
    serving: Serving | None = None
    history: tuple[Serving, ...] = ()
    ab: ABTest | None = None

    @property
    def serving_ref(self) -> str:
        return self.serving.ref if self.serving is not None else DEFAULT_REF

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "serving": None if self.serving is None else self.serving.to_dict(),
            "history": [h.to_dict() for h in self.history],
            "ab": None if self.ab is None else self.ab.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = REGISTRY_FILE) -> RegistryState:
        """Strictly: anything unexpected raises RegistryError naming ``where``."""
        if not isinstance(data, dict):
            raise RegistryError(f"{where}: expected a JSON object")
        version = data.get("version", 0)
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise RegistryError(f"{where}: version must be a whole number >= 0")
        history = data.get("history") or []
        if not isinstance(history, list):
            raise RegistryError(f"{where}: history must be a list")
        ab = data.get("ab")
        return cls(
            version=version,
            serving=None if data.get("serving") is None else _serving(data["serving"], f"{where}: serving"),
            history=tuple(_serving(h, f"{where}: history[{i}]") for i, h in enumerate(history)),
            ab=None if ab is None else _ab(ab, f"{where}: ab"),
        )


def _serving(data: Any, where: str) -> Serving:
    if not isinstance(data, dict) or not isinstance(data.get("ref"), str):
        raise RegistryError(f"{where}: expected {{\"ref\": \"...\", ...}}")
    check_ref_name(data["ref"], where)
    metrics = data.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise RegistryError(f"{where}: metrics must be an object")
    return Serving(data["ref"], str(data.get("since") or ""), metrics)


def _ab(data: Any, where: str) -> ABTest:
    if not isinstance(data, dict) or not isinstance(data.get("candidate"), str):
        raise RegistryError(f"{where}: expected {{\"candidate\": \"...\", \"share\": x, \"experiment\": \"...\"}}")
    check_ref_name(data["candidate"], where)
    share = data.get("share")
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise RegistryError(f"{where}: share must be a number in (0, 1]")
    experiment = data.get("experiment")
    if not isinstance(experiment, str) or not experiment:
        raise RegistryError(f"{where}: experiment must be a non-empty string")
    return ABTest(data["candidate"], float(share), experiment, str(data.get("started") or ""))


def check_ref_name(ref: str, where: str = "model") -> None:
    """A ref is "" or one plain directory name: no separators, no "..", no leading dot."""
    if ref != DEFAULT_REF and not _NAME.fullmatch(ref):
        raise RegistryError(f"{where}: {ref!r} is not a model directory name inside the models directory")


class ModelRegistry:
    """``registry.json`` in ``root`` (MODELS_DIR): read by rankers, written by ``daogou model``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        self.path = self.root / REGISTRY_FILE
        self.lock_path = self.root / LOCK_FILE

    # -- reading ----------------------------------------------------------------------

    def stamp(self) -> tuple[int, int, int] | None:
        """A cheap fingerprint of the file (inode, size, mtime in ns); None when absent.
        Pollers read the file only when this changes."""
        try:
            st = os.stat(self.path)
        except OSError:  # absent, or unreadable: read() says which
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def read(self) -> RegistryState:
        """The registry now: the empty state without a file; RegistryError for a file that
        is not a registry (the message names it)."""
        from core.evaluate import json_file

        try:
            data = json_file(self.path, RegistryError)
        except FileNotFoundError:
            return RegistryState()
        return RegistryState.from_dict(data, str(self.path))

    def resolve(self, ref: str) -> Path | None:
        """The directory of ``ref`` (None for the default), checked: inside MODELS_DIR, after
        following links, and an encoder directory (``config.json``).  Raises RegistryError."""
        check_ref_name(ref)
        if ref == DEFAULT_REF:
            return None
        root = self.root.resolve()
        path = (self.root / ref).resolve()
        if not path.is_relative_to(root) or path == root:
            raise RegistryError(f"model {ref!r} leads outside the models directory {root}")
        if not (path / "config.json").is_file():
            raise RegistryError(f"model {ref!r}: {path} is not an encoder directory (no config.json)")
        return path

    def ref_of(self, given: str) -> str:
        """The ref a person means: "default", a name inside MODELS_DIR, or a path to a
        directory inside it.  Raises RegistryError for anything else."""
        given = given.strip()
        if given in (DEFAULT_REF, DEFAULT_NAME) and not (self.root / DEFAULT_NAME).is_dir():
            return DEFAULT_REF
        candidate = Path(given).expanduser()
        if candidate.is_absolute() or len(candidate.parts) > 1 or given in (".", ".."):
            path = candidate.resolve()
            if path.parent != self.root.resolve():
                raise RegistryError(f"{given}: not a directory directly inside the models directory "
                                    f"{self.root} (DAOGOU_MODELS_DIR); move or copy it there first")
            given = path.name
        self.resolve(given)
        return given

    # -- writing ----------------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the registry's write lock (an exclusive ``flock`` on registry.lock)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def update(self, change: Callable[[RegistryState], RegistryState]) -> RegistryState:
        """Read, apply ``change``, write with ``version`` + 1, all under the lock; returns the
        state written.  ``change`` may raise (RegistryError) to leave the file as it was."""
        with self.locked():
            state = change(self.read())
            state = replace(state, version=state.version + 1, history=state.history[-HISTORY_LIMIT:])
            self._write(state)
            return state

    def _write(self, state: RegistryState) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".registry-", suffix=".tmp", dir=self.root)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(state.to_dict(), fh, indent=2, ensure_ascii=False)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- the changes ``daogou model`` makes ---------------------------------------------

    def promote(self, ref: str, metrics: Mapping[str, Any], *, expect_serving: str | None = None) -> RegistryState:
        """``ref`` serves; the model it replaces goes to the history.  With ``expect_serving``,
        refuse (RegistryError) when another promotion changed the serving model meanwhile.
        An A/B test of ``ref`` ends: it now serves everyone."""
        self.resolve(ref)

        def change(state: RegistryState) -> RegistryState:
            current = state.serving or Serving(DEFAULT_REF)
            if expect_serving is not None and current.ref != expect_serving:
                raise RegistryError(f"the serving model changed to {model_name(current.ref)!r} during the "
                                    "comparison; run the promotion again")
            ab = None if state.ab is not None and state.ab.candidate == ref else state.ab
            return replace(state, serving=Serving(ref, now_iso(), dict(metrics)),
                           history=(*state.history, current), ab=ab)

        return self.update(change)

    def rollback(self) -> RegistryState:
        """The last model in the history serves again; RegistryError when there is none."""

        def change(state: RegistryState) -> RegistryState:
            if not state.history:
                raise RegistryError("nothing to roll back to: the registry has no earlier serving model")
            previous = state.history[-1]
            self.resolve(previous.ref)  # it may have been deleted since
            return replace(state, serving=replace(previous, since=now_iso()), history=state.history[:-1])

        return self.update(change)

    def start_ab(self, candidate: str, share: float, experiment: str | None = None) -> RegistryState:
        """Start (or replace) the A/B test of ``candidate`` on ``share`` of the users."""
        if not 0 < share <= 1:
            raise RegistryError(f"--share must be in (0, 1], got {share:g}")
        self.resolve(candidate)
        started = now_iso()
        test = ABTest(candidate, share, experiment or f"ab-{candidate or DEFAULT_NAME}-{started}", started)

        def change(state: RegistryState) -> RegistryState:
            if candidate == state.serving_ref:
                raise RegistryError(f"{model_name(candidate)!r} is the serving model already")
            return replace(state, ab=test)

        return self.update(change)

    def stop_ab(self) -> RegistryState:
        def change(state: RegistryState) -> RegistryState:
            if state.ab is None:
                raise RegistryError("no A/B test is running")
            return replace(state, ab=None)

        return self.update(change)


def training_record(model_dir: Path | None) -> dict[str, Any]:
    """The model's ``training.json`` (``daogou train encoder`` writes it), or {}."""
    if model_dir is None:
        return {}
    try:
        data = json.loads((model_dir / "training.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
