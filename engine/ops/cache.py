"""A bounded, thread-safe LRU cache of operation results.

Keys are ``(checkpoint hash, operation name, parameters)``. Parameters are hashed canonically:
dicts by sorted key, tensors and arrays by dtype, shape and bytes, so equal inputs give equal keys
in every process. The cache is bounded by entry count and by an estimate of the bytes its values
hold (tensors, arrays, images, bytes); the least recently used entries go first.

Each key is computed once even when several threads ask for it at the same time: the first
computes (outside the lock, so other keys are not held up) and the others wait for its result.
Cached values are shared: treat them as read-only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import PurePath
from typing import Any, TypeVar

import numpy as np
import torch

from engine.errors import EngineError

T = TypeVar("T")


def _feed(h, value: Any) -> None:
    """Feed a canonical, type-tagged encoding of ``value`` into the hash ``h``."""
    if value is None or isinstance(value, bool):
        h.update(f"<{value!r}>".encode())
    elif isinstance(value, int):
        h.update(b"i%d;" % value)
    elif isinstance(value, float):
        h.update(b"f" + struct.pack("<d", value))
    elif isinstance(value, str):
        data = value.encode()
        h.update(b"s%d:" % len(data) + data)
    elif isinstance(value, bytes | bytearray):
        h.update(b"b%d:" % len(value) + bytes(value))
    elif isinstance(value, PurePath):
        _feed(h, ("path", str(value)))
    elif isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}:".encode())
        h.update(t.flatten().view(torch.uint8).numpy().tobytes())
    elif isinstance(value, np.generic):
        _feed(h, np.asarray(value))
    elif isinstance(value, np.ndarray) and value.dtype != object:
        a = np.ascontiguousarray(value)
        h.update(f"A{a.dtype.str}{a.shape}:".encode() + a.tobytes())
    elif isinstance(value, Mapping):
        items = sorted(((param_hash(k), v) for k, v in value.items()), key=lambda kv: kv[0])
        h.update(b"d%d{" % len(items))
        for key, v in items:
            h.update(key.encode())
            _feed(h, v)
        h.update(b"}")
    elif isinstance(value, list | tuple):
        h.update(b"l%d[" % len(value))
        for v in value:
            _feed(h, v)
        h.update(b"]")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        _feed(h, (type(value).__qualname__, fields))
    else:
        raise TypeError(f"cannot hash a {type(value).__name__} as a cache parameter")


def param_hash(value: Any) -> str:
    """Canonical sha256 of a parameter value (None, bool, int, float, str, bytes, paths,
    tensors, arrays, dataclasses, and dicts / lists / tuples of these)."""
    h = hashlib.sha256()
    _feed(h, value)
    return h.hexdigest()


def model_hash(model) -> str:
    """The hash that identifies a model's weights in cache keys.

    A model from :func:`engine.load` carries its card's ``weights_sha256``; any other model is
    hashed from its kind, config and state dict (by name, dtype, shape and bytes).
    """
    sha = getattr(model, "weights_sha256", None)
    if isinstance(sha, str) and sha:
        return sha
    config = getattr(model, "config", None)
    config = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else repr(config)
    return param_hash((getattr(model, "kind", ""), config, dict(model.state_dict())))


def nbytes(value: Any) -> int:
    """Approximate memory held by ``value``: exact for tensors, arrays and bytes."""
    if isinstance(value, torch.Tensor):
        return value.element_size() * value.nelement()
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, bytes | bytearray):
        return len(value)
    if hasattr(value, "size") and hasattr(value, "getbands"):  # a PIL image
        return value.size[0] * value.size[1] * len(value.getbands())
    if isinstance(value, Mapping):
        return sum(nbytes(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(nbytes(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(nbytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    return sys.getsizeof(value)


class _Abandoned(Exception):
    """A computation stopped by something of its caller's own (not an error of the inputs)."""


class ResultCache:
    """LRU cache of results keyed by (checkpoint hash, operation, parameters).

    Args:
        max_entries: most results kept.
        max_bytes: most bytes kept (estimated by :func:`nbytes`); a single result larger than
            this is returned but not kept.
    """

    def __init__(self, *, max_entries: int = 256, max_bytes: int = 512 * 2**20) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise EngineError("a cache needs max_entries and max_bytes of at least 1")
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._pending: dict[str, Future] = {}
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = self.misses = 0

    @staticmethod
    def key(checkpoint: str, operation: str, params: Mapping[str, Any] | None = None) -> str:
        """The cache key of one call (a sha256 hex string)."""
        return param_hash((str(checkpoint), str(operation), dict(params or {})))

    def get_or_compute(
        self,
        checkpoint: str,
        operation: str,
        params: Mapping[str, Any] | None,
        compute: Callable[[], T],
    ) -> T:
        """The cached result for this key, or ``compute()``'s, stored for next time.

        ``checkpoint`` is a model's hash (see :func:`model_hash`). If ``compute`` raises, the
        error reaches every caller waiting on this key and nothing is stored.
        """
        return self.fetch(self.key(checkpoint, operation, params), compute)[0]

    def fetch(self, key: str, compute: Callable[[], T]) -> tuple[T, bool]:
        """Like :meth:`get_or_compute` for a key from :meth:`key`; also says whether the result
        was already stored: ``(value, hit)`` (a caller that waited for another's computation
        gets ``hit=False``: it waited as long).

        An error of the computation (an ``Exception``) reaches every caller waiting on the key:
        the same inputs would fail the same way. Anything else that ends it early (the caller's
        run was stopped or restarted, ``KeyboardInterrupt``) belongs to that caller alone: the
        one raises it, and a caller that was waiting computes the result itself.
        """
        while True:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return self._entries[key][0], True
                pending = self._pending.get(key)
                owner = pending is None
                if owner:
                    pending = self._pending[key] = Future()
                    self.misses += 1
            if owner:
                return self._compute(key, pending, compute), False
            try:
                value = pending.result()
            except _Abandoned:
                continue  # its owner was interrupted: ask again, as owner or waiter
            with self._lock:
                self.hits += 1
            return value, False

    def _compute(self, key: str, pending: Future, compute: Callable[[], T]) -> T:
        try:
            value = compute()
        except BaseException as err:
            with self._lock:
                del self._pending[key]
            pending.set_exception(err if isinstance(err, Exception) else _Abandoned())
            raise
        with self._lock:
            del self._pending[key]
            self._store(key, value)
        pending.set_result(value)
        return value

    def _store(self, key: str, value: Any) -> None:
        size = nbytes(value)
        if size > self.max_bytes:
            return
        self._entries[key] = (value, size)
        self.bytes += size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            _, (_, old) = self._entries.popitem(last=False)
            self.bytes -= old

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        """Drop every stored result (computations in progress still finish)."""
        with self._lock:
            self._entries.clear()
            self.bytes = 0
