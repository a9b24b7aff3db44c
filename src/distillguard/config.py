"""Configuration: one TOML file plus environment variables, read into frozen dataclasses.

Each part of distillguard owns its section as a frozen dataclass next to its code
(``distillguard.store.StoreConfig``, ``distillguard.gateway.config.GatewayConfig``, ...) and
loads it with :func:`load_section`. Values come, lowest priority first, from the dataclass
defaults (shipped with the package, never read from the current directory), the file named by
``--config`` or ``DISTILLGUARD_CONFIG``, then environment variables named
``DISTILLGUARD_<SECTION>_<KEY>`` (for example ``DISTILLGUARD_STORE_KEEP_TEXT=true``).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

from distillguard.errors import ConfigError

T = TypeVar("T")

ENV_PREFIX = "DISTILLGUARD_"


def read_file(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Read the TOML configuration file (``path`` or ``$DISTILLGUARD_CONFIG``); {} if none."""
    chosen = path if path is not None else os.environ.get(ENV_PREFIX + "CONFIG")
    if not chosen:
        return {}
    p = Path(chosen)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{p}: configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: {exc}") from None


def _coerce(value: Any, typ: Any, where: str) -> Any:
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("", "none", "null")):
            return None
        typ = args[0]
        origin = typing.get_origin(typ)
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if typ in (int, float):
        try:
            return typ(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if typ is str:
        return str(value)
    if typ is Path:
        return Path(str(value)).expanduser()
    if origin in (tuple, list):
        items = value.split(",") if isinstance(value, str) else list(value)
        (inner, *_rest) = typing.get_args(typ) or (str,)
        return tuple(_coerce(v.strip() if isinstance(v, str) else v, inner, where) for v in items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return dict(value)
    return value


def load_section(
    section: str,
    cls: type[T],
    *,
    file_data: dict[str, Any] | None = None,
    environ: typing.Mapping[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> T:
    """Build ``cls`` (a dataclass) from defaults, the file's ``[section]``, env and overrides.

    Raises:
        ConfigError: an unknown key or a value of the wrong type, naming section and key.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    env = os.environ if environ is None else environ
    data = file_data if file_data is not None else read_file()
    given = dict(data.get(section, {}) or {})
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(given) - names)
    if unknown:
        raise ConfigError(
            f"[{section}]: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}"
        )
    prefix = f"{ENV_PREFIX}{section.upper()}_"
    for name in names:
        env_key = prefix + name.upper()
        if env_key in env:
            given[name] = env[env_key]
    for key, value in (overrides or {}).items():
        if value is not None:
            given[key] = value
    kwargs = {k: _coerce(v, hints[k], f"[{section}] {k}") for k, v in given.items()}
    return cls(**kwargs)
