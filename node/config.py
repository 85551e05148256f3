"""node.yaml, read and checked before anything listens: a bad key is one line naming it.

```yaml
listen: {ae_title: MEDCV_AI, port: 11112}
stowrs_port: 8080
stable_seconds: 10
database: sqlite:///node.sqlite
spool: node_spool
routes:
  - name: chest-findings
    match: {Modality: [CR, DX], BodyPartExamined: CHEST}
    model: exports/chest_findings
    per: image
    results: sr
    store_to: dicomweb+http://pacs:8042/dicom-web
```

Optional per route: `aggregate: max | mean` (per: study; default max), `seg_type:
binary | fractional` (results: seg; default binary).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from datasets.records.tasks import CLASSIFICATION, record_task
from node.routing import Matcher, parse_match

PER_CHOICES = ("image", "study")
RESULT_CHOICES = ("sr", "seg")
AGGREGATE_CHOICES = ("max", "mean")
SEG_TYPE_CHOICES = ("binary", "fractional")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_AE_TITLE = re.compile(r"[ -~]{1,16}")


class ConfigError(ValueError):
    """A node.yaml that cannot run; the message names the file and the key."""


@dataclass(frozen=True)
class Route:
    name: str
    match: dict[str, Matcher]
    model: str
    """A SavedModel (export_model) or a train_dir / checkpoint prefix."""
    per: str = "image"
    results: str = "sr"
    store_to: str | None = None
    """dicomweb+http://HOST:PORT/PATH or dimse://AET@HOST:PORT; None: results stay local."""
    aggregate: str = "max"
    """per: study: how the images' probabilities make the study's (max or mean)."""
    seg_type: str = "binary"
    """results: seg: a label map (binary) or the probabilities (fractional)."""


@dataclass(frozen=True)
class NodeConfig:
    ae_title: str
    port: int
    database: str
    spool: str
    routes: tuple[Route, ...]
    address: str = "0.0.0.0"
    stable_seconds: float = 10.0
    max_attempts: int = 5
    backoff_seconds: float = 2.0
    """The first retry's wait; each further one doubles it (with jitter), up to
    `max_backoff_seconds`."""
    max_backoff_seconds: float = 300.0
    max_batch: int = 32
    """Images a model batch holds, over the studies that became stable together."""
    max_wait_ms: int = 200
    """How long a worker waits for more stable studies to fill a batch."""
    lease_seconds: float = 300.0
    """A claimed job whose node died is taken over after this long."""
    min_free_mb: int = 1024
    keep_instances_hours: float = 24.0
    """A study whose results are all stored leaves the spool (its instances and result
    files) after this long without a new instance."""
    metrics_port: int | None = None
    stowrs_port: int | None = None
    """A STOW-RS endpoint (POST /studies) beside the C-STORE SCP; None: C-STORE only."""
    ae_title_out: str = "MEDCV_AI"
    results_dir: str = ""
    allowed_ae_titles: tuple[str, ...] = field(default_factory=tuple)


_TOP_KEYS = {"listen", "stable_seconds", "database", "spool", "routes", "max_attempts",
             "backoff_seconds", "max_backoff_seconds", "max_batch", "max_wait_ms",
             "lease_seconds", "min_free_mb", "keep_instances_hours", "metrics_port",
             "results_dir", "stowrs_port", "allowed_ae_titles"}
_ROUTE_KEYS = {"name", "match", "model", "per", "results", "store_to", "aggregate", "seg_type"}


def _refuse_unknown(raw: dict, known: set[str], where: str) -> None:
    """A misspelt key is an error, not a silently ignored setting."""
    unknown = sorted(str(k) for k in set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")


def _number(raw: dict, key: str, where: str, default, kind=float, low: float = 0):
    value = raw.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            kind is int and not float(value).is_integer()):
        what = "an integer" if kind is int else "a number"
        raise ConfigError(f"{where}{key}: {value!r} is not {what}")
    if value < low:
        raise ConfigError(f"{where}{key}: {value!r} is below {low}")
    return kind(value)


def _choice(raw: dict, key: str, choices: tuple[str, ...], at: str) -> str:
    value = raw.get(key, choices[0])
    if value not in choices:
        raise ConfigError(f"{at}.{key}: {value!r} is not one of {', '.join(choices)}")
    return value


def results_fit_task(results: str, task: str) -> bool:
    """Whether a route's `results` are what its model's task gives (SEGs from a
    segmentation model, SRs from any other)."""
    return results == record_task(task).result_kind


def _model_task(model: str) -> str | None:
    """The task a route's model was trained for, from its JSON record (no TensorFlow is
    loaded to check a config); None where no record says."""
    import json

    from training.loop.run_config import MODEL_INFO, RUN_CONFIG

    folder = model if os.path.isdir(model) else os.path.dirname(model)
    for name in (MODEL_INFO, RUN_CONFIG):  # an export's record, a train_dir's
        path = os.path.join(folder, name)
        if os.path.exists(path):
            try:
                with open(path, encoding="utf-8") as handle:
                    return str(json.load(handle).get("task") or CLASSIFICATION)
            except (OSError, ValueError):
                return None
    return None


def _route(raw: Any, index: int, where: str, base: str) -> Route:
    at = f"{where}routes[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{at}: a route is a mapping (name, match, model, ...)")
    _refuse_unknown(raw, _ROUTE_KEYS, f"{at}.")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"{at}.name: {name!r} is not a route name (letters, digits, _.-)")
    model = raw.get("model")
    if not isinstance(model, str) or not model:
        raise ConfigError(f"{at}.model: required, a SavedModel or a train_dir")
    model = os.path.join(base, model) if not os.path.isabs(model) else model
    if not os.path.exists(model) and not os.path.exists(model + ".index"):
        raise ConfigError(f"{at}.model: {model} does not exist")
    per = _choice(raw, "per", PER_CHOICES, at)
    results = _choice(raw, "results", RESULT_CHOICES, at)
    aggregate = _choice(raw, "aggregate", AGGREGATE_CHOICES, at)
    seg_type = _choice(raw, "seg_type", SEG_TYPE_CHOICES, at)
    if "aggregate" in raw and per != "study":
        raise ConfigError(f"{at}.aggregate: aggregates a study's images; it needs per: study")
    if "seg_type" in raw and results != "seg":
        raise ConfigError(f"{at}.seg_type: is for results: seg")
    if results == "seg" and per != "image":
        raise ConfigError(f"{at}.per: a seg route segments each image (one SEG per series); "
                          "per: study is for sr")
    task = _model_task(model)
    if task is not None and not results_fit_task(results, task):
        raise ConfigError(f"{at}.results: {results} does not fit {model}, a {task} model "
                          f"({record_task(task).result_kind} does)")
    store_to = raw.get("store_to")
    if store_to is not None:
        from dicom.network.pacs_address import parse_pacs_url

        try:
            parse_pacs_url(str(store_to), f"{at}.store_to")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    try:
        match = parse_match(raw.get("match"), f"{at}.match")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Route(name, match, model, per, results, None if store_to is None else str(store_to),
                 aggregate, seg_type)


def load_config(path: str) -> NodeConfig:
    """The node's configuration; ConfigError names the file and the key at fault."""
    import yaml

    where = f"{path}: "
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not YAML{line}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings (listen, database, routes, ...)")
    _refuse_unknown(raw, _TOP_KEYS, where)
    base = os.path.dirname(os.path.abspath(path))
    listen = raw.get("listen") or {}
    if not isinstance(listen, dict):
        raise ConfigError(f"{where}listen: a mapping {{ae_title, port}}")
    ae_title = listen.get("ae_title", "MEDCV_AI")
    if not isinstance(ae_title, str) or not _AE_TITLE.fullmatch(ae_title) or "\\" in ae_title:
        raise ConfigError(f"{where}listen.ae_title: {ae_title!r} is not an AE title "
                          "(1-16 characters)")
    port = _number(listen, "port", f"{where}listen.", 11112, int, 1)
    if port > 65535:
        raise ConfigError(f"{where}listen.port: {port} is above 65535")
    routes_raw = raw.get("routes")
    if not isinstance(routes_raw, list) or not routes_raw:
        raise ConfigError(f"{where}routes: at least one route is required")
    routes = tuple(_route(r, i, where, base) for i, r in enumerate(routes_raw))
    names = [r.name for r in routes]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}routes: two routes are named "
                          f"{next(n for n in names if names.count(n) > 1)!r}")
    database = raw.get("database", "sqlite:///node.sqlite")
    if not isinstance(database, str) or "://" not in database:
        raise ConfigError(f"{where}database: {database!r} is not a database URL")
    if database.startswith("sqlite:///") and not database.startswith("sqlite:////"):
        database = "sqlite:///" + os.path.join(base, database[len("sqlite:///"):])
    spool = raw.get("spool", "node_spool")
    if not isinstance(spool, str) or not spool:
        raise ConfigError(f"{where}spool: a folder is required")
    spool = spool if os.path.isabs(spool) else os.path.join(base, spool)
    results_dir = raw.get("results_dir") or os.path.join(spool, "results")
    results_dir = results_dir if os.path.isabs(results_dir) else os.path.join(base, results_dir)
    allowed = raw.get("allowed_ae_titles") or []
    if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
        raise ConfigError(f"{where}allowed_ae_titles: a list of AE titles")
    metrics_port = _number(raw, "metrics_port", where, None, int, 1)
    stowrs_port = _number(raw, "stowrs_port", where, None, int, 1)
    for key, value in (("metrics_port", metrics_port), ("stowrs_port", stowrs_port)):
        if value is not None and value > 65535:
            raise ConfigError(f"{where}{key}: {value} is above 65535")
    if stowrs_port is not None and stowrs_port in (port, metrics_port):
        raise ConfigError(f"{where}stowrs_port: {stowrs_port} is taken by another listener")
    return NodeConfig(
        ae_title=ae_title, port=port, address=str(listen.get("address", "0.0.0.0")),
        database=database, spool=spool, routes=routes,
        stable_seconds=_number(raw, "stable_seconds", where, 10.0, float, 0),
        max_attempts=_number(raw, "max_attempts", where, 5, int, 1),
        backoff_seconds=_number(raw, "backoff_seconds", where, 2.0, float, 0),
        max_backoff_seconds=_number(raw, "max_backoff_seconds", where, 300.0, float, 0),
        max_batch=_number(raw, "max_batch", where, 32, int, 1),
        max_wait_ms=_number(raw, "max_wait_ms", where, 200, int, 0),
        lease_seconds=_number(raw, "lease_seconds", where, 300.0, float, 1),
        min_free_mb=_number(raw, "min_free_mb", where, 1024, int, 0),
        keep_instances_hours=_number(raw, "keep_instances_hours", where, 24.0, float, 0),
        metrics_port=metrics_port, stowrs_port=stowrs_port, results_dir=results_dir,
        allowed_ae_titles=tuple(allowed))
