"""Multi-document YAML into `Manifest` values that know where they came from.

Two parsers, each doing what it is best at (measurements in docs/benchmarks.md):

* The hot path parses with PyYAML's libyaml-backed `CSafeLoader`: about 20x
  faster than ruamel.yaml's round-trip loader, and YAML 1.1 like the Kubernetes
  decoder (`yes`/`on` are booleans, `0777` is octal), so what we validate is
  what the API server would see. Tags are never executed (safe loading only).
* Positions are needed only for documents that have findings, so `Manifest.locate`
  re-parses just that document with ruamel.yaml's round-trip loader, which keeps
  the line and column of every key and item.

Problems in the input are returned as `Finding`s (file:line:column), not raised,
so one run reports every broken file at once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitops_ray import kinds
from gitops_ray.findings import Finding, Severity
from gitops_ray.refs import ObjectRef

MAX_FILE_BYTES = 5 * 1024 * 1024
"""Files above this are refused: the API server takes 3 MiB per object and a
manifest file ten times the size of any real one is a mistake or an attack."""

MAX_EXPANDED_NODES = 1_000_000
"""Alias expansion bound ("billion laughs"): a document whose aliases expand
to more nodes than this is refused before anything walks it."""

YAML_SUFFIXES = (".yaml", ".yml")

PathElem = str | int


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a document came from. `line` is 1-based, where the object starts."""

    file: str
    document: int
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file's name (as shown to users) and text, shared by its documents."""

    path: str
    text: str


@dataclass(slots=True, eq=False)
class Manifest:
    """One Kubernetes object from Git, as plain JSON-compatible data.

    `item_path` is set for objects flattened out of a `List`: the path of the
    item inside its document (`("items", 3)`), so positions still resolve.
    """

    ref: ObjectRef
    api_version: str
    body: dict[str, Any]
    origin: Origin
    source: SourceFile = field(repr=False)
    doc_span: tuple[int, int] = field(repr=False, default=(0, 0))
    item_path: tuple[PathElem, ...] = ()

    @property
    def kind(self) -> str:
        return self.ref.kind

    def content_digest(self) -> str:
        """Digest of the manifest's own text (the document, and the item for List members):
        equal text means an equal body, without serialising the body."""
        start, end = self.doc_span
        data = f"{self.source.text[start:end]}\0{self.item_path}".encode()
        return hashlib.sha256(data).hexdigest()[:32]

    def locate(self, path: Sequence[PathElem]) -> tuple[int, int]:
        """Line and column (1-based) of `path`, or of its nearest parent in the file."""
        return locate_in_document(self.source, self.doc_span, (*self.item_path, *path), self.origin)


@dataclass(slots=True)
class LoadResult:
    manifests: list[Manifest] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    documents: int = 0

    def extend(self, other: LoadResult) -> None:
        self.manifests.extend(other.manifests)
        self.findings.extend(other.findings)
        self.documents += other.documents


# --------------------------------------------------------------------------- loader


class _DuplicateKey(yaml.constructor.ConstructorError):
    pass


_resolve_memo = functools.lru_cache(maxsize=65536)(yaml.resolver.Resolver().resolve)
"""Implicit tag resolution depends only on (node kind, value, implicit flags) and the
resolver's class-level tables, which StrictLoader shares with Resolver."""


class StrictLoader(yaml.CSafeLoader):
    """CSafeLoader that refuses duplicate keys and keeps timestamps as strings.

    Kubernetes decodes YAML to JSON, so an unquoted `2024-01-01` stays a string
    (sigs.k8s.io/yaml); PyYAML would make it a `date`. Non-string keys become
    strings for the same reason.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if isinstance(key_node, yaml.ScalarNode):
                key = key_node.value
                first = seen.get(key)
                if first is not None:
                    raise _DuplicateKey(
                        f"first defined at line {first.start_mark.line + 1}",
                        node.start_mark,
                        f'duplicate key "{key}"',
                        key_node.start_mark,
                    )
                seen[key] = key_node
        mapping = super().construct_mapping(node, deep=deep)
        if any(not isinstance(k, str) for k in mapping):
            mapping = {_key_str(k): v for k, v in mapping.items()}
        return mapping

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        # libyaml's composer calls self.resolve for every scalar: a C-level memo (keys and
        # common values repeat across documents) instead of a Python frame and regex scan.
        self.resolve = _resolve_memo  # type: ignore[method-assign]

    # PyYAML calls these two for every node to track path resolvers; this loader registers none.
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    @classmethod
    def add_path_resolver(cls, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("StrictLoader does not support path resolvers")


_ALIAS_TOKEN = re.compile(r"(?:^|[\s\[{,])\*[^\s\[\]{},]", re.MULTILINE)
"""Where a YAML alias (`*name`) could be: a superset (strings can match too), so a text
without a match has no aliases and its documents share no nodes."""

_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_PLAIN_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp")
)


class _NotPlain(Exception):
    """The document needs PyYAML's full constructor (merge keys, explicit tags, odd keys, duplicates)."""


def _construct_plain(loader: StrictLoader, node: yaml.Node) -> Any:
    """What `loader.construct_document(node)` returns, for documents of plain maps, lists
    and scalars with string keys: the same values without PyYAML's generic machinery
    (generators, per-node bookkeeping), about 6x faster. Anything else raises _NotPlain
    and the caller uses the full constructor, so results and errors are unchanged."""
    cls = node.__class__
    if cls is yaml.ScalarNode:
        if node.tag == _STR_TAG:
            return node.value
        if node.tag in _PLAIN_SCALAR_TAGS:
            return loader.yaml_constructors[node.tag](loader, node)
        raise _NotPlain
    if cls is yaml.MappingNode and node.tag == _MAP_TAG:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is not yaml.ScalarNode or key_node.tag != _STR_TAG or key_node.value in out:
                raise _NotPlain
            out[key_node.value] = _construct_plain(loader, value_node)
        return out
    if cls is yaml.SequenceNode and node.tag == _SEQ_TAG:
        return [_construct_plain(loader, item) for item in node.value]
    raise _NotPlain


def _key_str(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _timestamp_as_string(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    return loader.construct_scalar(node)


StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_string)


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Nodes the document expands to with aliases followed, stopping past `limit`."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # a recursive alias counts once; PyYAML refuses cycles itself
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += size(child)
                if total > limit:
                    break
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                total += size(key) + size(value)
                if total > limit:
                    break
        sizes[id(node)] = total
        return total

    return size(root)


def _finding(
    file: str, line: int, column: int, rule: str, message: str, *, api_version: str = "", kind: str = ""
) -> Finding:
    return Finding(file=file, line=line, column=column, rule=rule, message=message, api_version=api_version, kind=kind)


def _decode(path: str, data: bytes, max_bytes: int) -> tuple[str | None, Finding | None]:
    if len(data) > max_bytes:
        return None, _finding(
            path, 1, 1, "manifest:too-large",
            f"file is {len(data):,} bytes, over the {max_bytes:,}-byte limit for a manifest file",
        )
    if b"\x00" in data[:8192]:
        return None, _finding(path, 1, 1, "manifest:binary", "binary file (contains NUL bytes), not YAML")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        return None, _finding(
            path, line, column, "manifest:encoding",
            f"not valid UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start})",
        )
    return text, None


def load_bytes(
    path: str,
    data: bytes,
    *,
    default_namespace: str = "",
    max_bytes: int = MAX_FILE_BYTES,
) -> LoadResult:
    """Parse one file's bytes. `path` is the name findings show (repository-relative)."""
    text, problem = _decode(path, data, max_bytes)
    if problem is not None or text is None:
        return LoadResult(findings=[problem] if problem else [])
    return load_text(path, text, default_namespace=default_namespace)


def load_text(path: str, text: str, *, default_namespace: str = "") -> LoadResult:
    result = LoadResult()
    source = SourceFile(path, text)
    may_alias = "&" in text and _ALIAS_TOKEN.search(text) is not None
    loader = StrictLoader(text)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            doc_index = index
            index += 1
            start, end = node.start_mark.index, node.end_mark.index
            shared = may_alias and text.find("&", start, end) != -1 and text.find("*", start, end) != -1 and (
                _ALIAS_TOKEN.search(text, start, end) is not None)  # anchors never cross documents
            if shared and _expanded_size(node, MAX_EXPANDED_NODES) > MAX_EXPANDED_NODES:
                result.findings.append(_finding(
                    path, node.start_mark.line + 1, node.start_mark.column + 1, "yaml:alias-bomb",
                    f"document {doc_index} expands its aliases to more than {MAX_EXPANDED_NODES:,} nodes",
                ))
                continue
            if shared:  # shared (possibly recursive) nodes: keep PyYAML's object sharing
                body = loader.construct_document(node)
            else:
                try:
                    body = _construct_plain(loader, node)
                except _NotPlain:
                    body = loader.construct_document(node)
            if body is None:
                continue  # an empty document between `---` markers
            result.documents += 1
            span = (start, end)
            origin = Origin(path, doc_index, node.start_mark.line + 1, node.start_mark.column + 1)
            _add_document(result, source, span, origin, body, default_namespace)
    except yaml.MarkedYAMLError as err:
        result.findings.append(_yaml_error_finding(path, text, err))
    except (yaml.YAMLError, RecursionError, ValueError) as err:
        result.findings.append(_finding(path, 1, 1, "yaml:syntax", f"invalid YAML: {err}"))
    finally:
        loader.dispose()
    if result.documents == 0 and not result.findings:
        result.findings.append(_finding(path, 1, 1, "manifest:empty", "file has no YAML documents"))
    return result


def _yaml_error_finding(path: str, text: str, err: yaml.MarkedYAMLError) -> Finding:
    mark = err.problem_mark or err.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = err.problem or "invalid YAML"
    if isinstance(err, _DuplicateKey):
        return _finding(path, line, column, "yaml:duplicate-key", f"{problem} ({err.context})")
    if problem.startswith("could not determine a constructor"):
        return _finding(path, line, column, "yaml:tag", f"unsupported YAML tag: {problem} (tags are never executed)")
    context = f" {err.context}" if err.context else ""
    message = f"invalid YAML: {problem}{context}"
    lines = text.splitlines()
    if mark and mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]:
        message += " (a tab character: YAML indentation must use spaces)"
    return _finding(path, line, column, "yaml:syntax", message)


_TYPE_NAMES = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


def _add_document(
    result: LoadResult,
    source: SourceFile,
    span: tuple[int, int],
    origin: Origin,
    body: Any,
    default_namespace: str,
) -> None:
    if not isinstance(body, dict):
        what = _TYPE_NAMES.get(type(body), type(body).__name__)
        result.findings.append(_finding(
            origin.file, origin.line, origin.column, "manifest:not-a-mapping",
            f"document {origin.document} is {what}, expected a mapping (a Kubernetes object)",
        ))
        return
    kind = body.get("kind")
    items = body.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        for i, item in enumerate(items):
            item_path: tuple[PathElem, ...] = ("items", i)
            line, column = locate_in_document(source, span, item_path, origin)
            item_origin = Origin(origin.file, origin.document, line, column)
            if not isinstance(item, dict):
                result.findings.append(_finding(
                    origin.file, line, column, "manifest:not-a-mapping",
                    f"items[{i}] of {kind} is {_TYPE_NAMES.get(type(item), 'not a mapping')}, expected an object",
                ))
                continue
            _add_object(result, source, span, item_origin, item, default_namespace, item_path)
        return
    _add_object(result, source, span, origin, body, default_namespace, ())


def _add_object(
    result: LoadResult,
    source: SourceFile,
    span: tuple[int, int],
    origin: Origin,
    body: dict[str, Any],
    default_namespace: str,
    item_path: tuple[PathElem, ...],
) -> None:
    def missing(path: tuple[PathElem, ...], message: str, rule: str) -> None:
        line, column = locate_in_document(source, span, (*item_path, *path), origin)
        result.findings.append(_finding(
            origin.file, line, column, rule, message,
            api_version=str(body.get("apiVersion", "")), kind=str(body.get("kind", "")),
        ))

    api_version = body.get("apiVersion")
    kind = body.get("kind")
    meta = body.get("metadata")
    ok = True
    if not isinstance(api_version, str) or not api_version:
        missing(("apiVersion",), "apiVersion is required (a non-empty string)", "manifest:missing-apiVersion")
        ok = False
    if not isinstance(kind, str) or not kind:
        missing(("kind",), "kind is required (a non-empty string)", "manifest:missing-kind")
        ok = False
    if not isinstance(meta, dict):
        missing(("metadata",), "metadata is required (a mapping with a name)", "manifest:missing-name")
        return
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        if meta.get("generateName"):
            missing(("metadata", "generateName"),
                    "metadata.generateName is not idempotent under GitOps (every apply would create a "
                    "new object); set metadata.name", "manifest:generate-name")
        else:
            missing(("metadata", "name"), "metadata.name is required", "manifest:missing-name")
        ok = False
    if not ok:
        return
    assert isinstance(api_version, str) and isinstance(kind, str)
    ref = ObjectRef.from_object(body)
    if not ref.namespace and default_namespace and kinds.is_namespaced(ref.group, ref.kind):
        ref = ObjectRef(ref.group, ref.kind, default_namespace, ref.name)
    result.manifests.append(Manifest(
        ref=ref, api_version=api_version, body=body, origin=origin,
        source=source, doc_span=span, item_path=item_path,
    ))


# --------------------------------------------------------------------------- files


def iter_yaml_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given, directories recursed for *.yaml/*.yml, in a stable order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*")
                if p.suffix in YAML_SUFFIXES and p.is_file() and not _hidden(p.relative_to(path))
            )
        else:
            yield path


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def find_duplicates(manifests: Iterable[Manifest]) -> list[Finding]:
    """The same object (group, kind, namespace, name) defined twice: both places named."""
    first: dict[ObjectRef, Manifest] = {}
    findings: list[Finding] = []
    for manifest in manifests:
        earlier = first.setdefault(manifest.ref, manifest)
        if earlier is manifest:
            continue
        line, column = manifest.locate(("metadata", "name"))
        findings.append(Finding(
            file=manifest.origin.file, line=line, column=column, rule="manifest:duplicate-object",
            path="metadata.name",
            message=f"{manifest.ref} is defined twice: first at {earlier.origin}",
            api_version=manifest.api_version, kind=manifest.ref.kind,
            namespace=manifest.ref.namespace, name=manifest.ref.name,
        ))
    return findings


# --------------------------------------------------------------------------- positions


@functools.lru_cache(maxsize=64)
def _position_tree(text: str) -> Any:
    from ruamel.yaml import YAML

    rt = YAML(typ="rt")
    rt.allow_duplicate_keys = True
    return rt.load(text)


def locate_in_document(
    source: SourceFile,
    span: tuple[int, int],
    path: Sequence[PathElem],
    fallback: Origin,
) -> tuple[int, int]:
    """1-based (line, column) of `path` in one document, or of its nearest present parent.

    Only the document itself is re-parsed (from the start of its first line, so
    indentation is kept), and the line offset is added back.
    """
    start, end = span
    if end <= start:
        return fallback.line, fallback.column
    line_start = source.text.rfind("\n", 0, start) + 1
    offset = source.text.count("\n", 0, line_start)
    try:
        node = _position_tree(source.text[line_start:end])
    except Exception:  # a document PyYAML accepted but ruamel does not: keep the document start
        return fallback.line, fallback.column
    line, column = fallback.line - 1 - offset, fallback.column - 1
    for elem in path:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(elem, int) and isinstance(node, list) and 0 <= elem < len(node):
                if lc is not None:
                    line, column = lc.item(elem)
                node = node[elem]
            elif isinstance(node, dict):
                key = _find_key(node, elem)
                if key is None:
                    break
                if lc is not None:
                    line, column = lc.key(key)
                node = node[key]
            else:
                break
        except (KeyError, IndexError, TypeError):
            break
    return line + 1 + offset, column + 1


def _find_key(node: dict[Any, Any], elem: PathElem) -> Any:
    if elem in node:
        return elem
    for key in node:  # YAML 1.1 vs 1.2 spelling of the same key (`on`, `yes`, numbers)
        if str(key).lower() == str(elem).lower():
            return key
    return None


_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


def format_path(path: Sequence[PathElem]) -> str:
    """`("spec", "workerGroupSpecs", 0, "replicas")` -> `spec.workerGroupSpecs[0].replicas`;
    keys that are not plain names are quoted: `metadata.annotations["ray.io/ft-enabled"]`."""
    out: list[str] = []
    for elem in path:
        if isinstance(elem, int):
            out.append(f"[{elem}]")
        elif not _PLAIN_KEY.match(str(elem)):
            out.append(f"[{json.dumps(str(elem))}]")
        else:
            out.append(f".{elem}" if out else str(elem))
    return "".join(out)


__all__ = [
    "MAX_FILE_BYTES",
    "LoadResult",
    "Manifest",
    "Origin",
    "Severity",
    "SourceFile",
    "find_duplicates",
    "format_path",
    "iter_yaml_files",
    "load_bytes",
    "load_text",
]
