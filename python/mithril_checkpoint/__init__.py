"""Save and load PyTorch checkpoints through a mithril store.

Drives the ``mithril`` command (``MITHRIL_BIN``, split with shlex, or ``mithril``
on PATH) over pipes: no temporary files. torch is imported only by the functions
that need it (save, load, Saver.save).
"""

import io
import json
import os
import shlex
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["MithrilError", "save", "load", "add", "add_bytes", "get", "get_bytes", "entries", "verify", "Saver"]
__version__ = "0.1.0"

_PREFIX = "mithril: "


class MithrilError(Exception):
    """The mithril command failed: ``message`` is its one-line error (without
    the ``mithril: `` prefix), ``code`` its exit code (None if it could not start)."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self):
        return self.message


def _command():
    configured = os.environ.get("MITHRIL_BIN")
    if configured and configured.strip():
        return shlex.split(configured)
    found = shutil.which("mithril")
    if found is None:
        raise MithrilError("the mithril command was not found: put it on PATH or set MITHRIL_BIN")
    return [found]


def _message(stderr):
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(_PREFIX):
            return line[len(_PREFIX):]
    return lines[-1] if lines else "failed without a message"


def _run(args, data=None):
    """Runs ``mithril ARGS``, feeding DATA (bytes-like) on stdin; returns stdout."""
    command = _command() + [os.fspath(a) for a in args]
    try:
        proc = subprocess.run(
            command,
            input=data,
            stdin=None if data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as error:
        raise MithrilError("cannot run %s: %s" % (command[0], error.strerror or error)) from None
    if proc.returncode != 0:
        raise MithrilError(_message(proc.stderr), proc.returncode)
    return proc.stdout


def _serialize(obj):
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _add_args(store, path, name, fast, reference):
    args = ["store", "add", store, path, "-q"]
    if name is not None:
        args += ["--name", name]
    if fast:
        args.append("--fast")
    if reference is not None:
        args += ["--reference", reference]
    return args


def add(store, path, name=None, fast=False, reference=None):
    """Adds a checkpoint already on disk: a file, or a folder such as Trainer's ``checkpoint-500/``
    (entry name: NAME or the file or folder name). REFERENCE: a read-only model to code against."""
    _run(_add_args(store, path, name, fast, reference))


def add_bytes(store, data, name, fast=False, reference=None):
    """Adds the bytes of a checkpoint, piped to ``mithril store add STORE -``."""
    _run(_add_args(store, "-", name, fast, reference), data=data)


def save(obj, store, name, fast=False, reference=None):
    """``torch.save(obj)`` into the store as entry NAME (serialized in memory, then piped)."""
    add_bytes(store, _serialize(obj), name, fast=fast, reference=reference)


def get_bytes(store, name):
    """The bytes of entry NAME, restored bit-exactly."""
    return _run(["store", "get", store, name, "-c", "-q"])


def load(store, name, map_location=None, **kwargs):
    """``torch.load`` of entry NAME, read from ``mithril store get -c`` into memory."""
    import torch

    return torch.load(io.BytesIO(get_bytes(store, name)), map_location=map_location, **kwargs)


def get(store, name, out, force=False):
    """Restores entry NAME to OUT, a file (``force`` overwrites it) or for a folder entry a new folder; returns OUT."""
    args = ["store", "get", store, name, "-o", out, "-q"]
    if force:
        args.append("-f")
    _run(args)
    return out


def entries(store):
    """The store's entries, oldest first: dicts with seq, name, kind ("file" or "folder"), size,
    stored, bases, depth, coding, added, members (each file's path, original{name,size,xxh64},
    stored, bases) and reference if it needs one (``mithril store ls --json``)."""
    out = _run(["store", "ls", store, "--json"]).decode("utf-8")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def verify(store):
    """Decodes every entry and checks every checksum; raises MithrilError if one fails."""
    _run(["store", "verify", store])


class Saver:
    """Saves checkpoints in the background, in order.

    ``save(obj, name)`` serializes OBJ at once (later changes to the model do not
    matter) and queues the add; at most MAX_PENDING serialized checkpoints wait
    in memory, beyond that ``save`` blocks. ``wait()`` waits for every queued add
    and raises the first error; ``save`` raises it early if one already happened.
    Used as a context manager, leaving the block waits.
    """

    def __init__(self, store, max_pending=2, fast=False):
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.store = store
        self.fast = fast
        self._slots = threading.BoundedSemaphore(max_pending)
        # One worker: adds run one at a time in save order, so each can use the last as a base.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mithril-saver")
        self._lock = threading.Lock()
        self._futures = []
        self._error = None

    def save(self, obj, name):
        self._raise_error()
        data = _serialize(obj)
        self._slots.acquire()
        try:
            future = self._pool.submit(self._add, data, name)
        except BaseException:
            self._slots.release()
            raise
        with self._lock:
            self._futures.append(future)
        return future

    def _add(self, data, name):
        try:
            add_bytes(self.store, data, name, fast=self.fast)
        except BaseException as error:
            with self._lock:
                if self._error is None:
                    self._error = error
            raise
        finally:
            self._slots.release()

    def _raise_error(self):
        with self._lock:
            error, self._error = self._error, None
        if error is not None:
            raise error

    def wait(self):
        """Waits for every pending add; raises the first error not yet raised."""
        while True:
            with self._lock:
                futures, self._futures = self._futures, []
            if not futures:
                break
            for future in futures:
                try:
                    future.result()
                except BaseException:
                    pass  # recorded in self._error
        self._raise_error()

    @property
    def pending(self):
        with self._lock:
            return sum(1 for f in self._futures if not f.done())

    def close(self):
        """Waits (raising the first error), then stops the worker thread."""
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            try:
                self.close()
            except Exception:
                pass  # the block's own exception is the one to report
        return False
