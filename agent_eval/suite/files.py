"""Read the files a user writes into config.py's models: YAML read as UTF-8, every path kept
inside its folder, every error turned into one ConfigError line that names the file, the field and
the fix — the CLI prints it and exits 2."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .config import NAME_RULE, ConfigError

# Sizes checked with stat() before anything is read: parsing a 50 MB YAML file or hashing a 1 GiB
# input takes minutes, and no suite, profile or task needs that much.
MAX_YAML_BYTES = 1_000_000
MAX_INPUT_BYTES = 100_000_000


class DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, line: int, first: int):
        super().__init__(f"key {key!r} on lines {first} and {line}")
        self.key, self.line, self.first = key, line, first


class UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping (plain YAML keeps the last, silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden, that is its purpose
                continue
            key, line = self.construct_object(key_node, deep=deep), key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise DuplicateKey(key, line, seen[key])
                seen[key] = line
            except TypeError:  # an unhashable key: the base class says so
                pass
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> dict:
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a YAML file; name the file inside it")
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    if (size := path.stat().st_size) > MAX_YAML_BYTES:
        raise ConfigError(f"{path}: the file is {size:,} bytes, more than the {MAX_YAML_BYTES:,} a YAML file here may be; "
                          "keep it short (a task's large data belongs in its input files)")
    try:
        data = yaml.load(path.read_bytes().decode("utf-8"), Loader=UniqueKeyLoader)
    except DuplicateKey as err:
        raise ConfigError(f"{path}: line {err.line}: field '{err.key}': given twice (first on line {err.first}), "
                          "and only the last would count; keep one") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err}); save it as UTF-8") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read ({err.strerror}); check its permissions") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} not valid YAML ({getattr(err, 'problem', err)}); fix the syntax") from None
    if data is None:
        raise ConfigError(f"{path}: the file is empty; write its fields (`agent-eval schema` lists them)")
    if not isinstance(data, dict):
        kind = {"list": "a list", "str": "plain text"}.get(type(data).__name__, type(data).__name__)
        raise ConfigError(f"{path}: expected a mapping of fields at the top level, got {kind}")
    return data


def parse(model: type[BaseModel], data: dict, source: Path, **extra: Any) -> Any:
    try:
        return model.model_validate({**data, **extra})
    except ValidationError as err:
        raise ConfigError(f"{source}: {_one_line(model, err)}") from None


def _one_line(model: type[BaseModel], err: ValidationError) -> str:
    first = err.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        parent = _model_at(model, first["loc"][:-1])
        allowed = ", ".join(n for n, f in parent.model_fields.items() if not f.exclude) if parent else ""
        return f"unknown field '{field}'; allowed here: {allowed}"
    if first["type"] == "missing":
        return f"field '{field}' is required; add it"
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "string_pattern_mismatch":
        msg = ("must be an environment variable's name, e.g. MY_API_KEY" if field.endswith("api_key_env")
               else f"'{str(first['input'])[:40]}' must be a plain name: {NAME_RULE}; rename it")
    elif first["type"] in ("int_type", "int_parsing", "int_from_float"):
        msg = f"{str(first['input'])[:40]!r} is not a whole number; write one, e.g. 3"
    elif first["type"] in ("too_short", "string_too_short"):
        msg = "is empty; give at least one, or leave the field out for the default"
    elif first["type"] == "string_too_long":
        msg = f"is {len(str(first['input']))} characters; {msg.lower()}"
    return f"field '{field}': {msg}"


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model class that `loc` points into, following lists, dicts and optionals."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, str) and _is_model(current):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
        else:
            args = getattr(current, "__args__", ())
            current = args[-1] if args else None  # list[X] -> X, dict[K, V] -> V
    current = _unwrap(current)
    return current if _is_model(current) else None


def _unwrap(annotation: Any) -> Any:
    args = getattr(annotation, "__args__", ())
    return next(a for a in args if a is not type(None)) if type(None) in args else annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def hash_files(paths: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def confined(folder: Path, name: str, source: Path, field: str) -> Path:
    """`name` inside `folder`, where it must stay: no absolute paths, no `..`, no symlink that leads out."""
    path = folder / name
    try:
        path.resolve().relative_to(folder.resolve())
        escapes = Path(name).is_absolute()
    except ValueError:
        escapes = True
    if escapes:
        raise ConfigError(f"{source}: field '{field}': {name} leads outside {folder}; keep inputs inside that folder")
    return path


def check_tree(folder: Path, source: Path) -> list[Path]:
    """Every file of a folder that gets copied and hashed (a profile): regular files only, and no
    symlink that leaves the folder or leads nowhere — a named pipe would hang the copy; and at most
    MAX_INPUT_BYTES in all, checked before anything is hashed."""
    files = []
    size = 0
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        if path.is_symlink():
            if not path.exists():
                raise ConfigError(f"{source}: {path.relative_to(folder)} is a dangling symlink in {folder}; remove it")
            confined(folder, str(path.relative_to(folder)), source, "(profile folder)")
        if path.is_file():
            files.append(path)
            size += path.stat().st_size
            if size > MAX_INPUT_BYTES:
                raise ConfigError(f"{source}: the folder {folder} holds more than {MAX_INPUT_BYTES:,} bytes (at {path.relative_to(folder)}); "
                                  "a profile is copied and hashed for every run: keep large files out of it")
        elif not path.is_dir():
            raise ConfigError(f"{source}: {path.relative_to(folder)} in {folder} is not a regular file (a pipe or device?); remove it")
    return files
