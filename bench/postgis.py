"""A throw-away PostgreSQL + PostGIS cluster for the benchmarks.

``postgis_cluster()`` runs ``initdb`` in a fresh temporary directory (data and unix socket both
inside it), starts ``postgres`` listening only on 127.0.0.1 on a free port, creates the database
``bench`` with the ``postgis`` and ``btree_gist`` extensions, and yields a libpq DSN. On leaving the
``with`` block - normally, by an exception, by Ctrl-C or by SIGTERM - it stops the server and
deletes the directory. Authentication is ``trust``: the server is reachable only from this machine
and lives only as long as the benchmark.

Binaries come from ``$PG_BINDIR`` or else ``/usr/lib/postgresql/15/bin`` (Debian's
``postgresql-15`` with ``postgresql-15-postgis-3``). Running as root, the server runs as the
``postgres`` user through ``runuser -u postgres --``; as anyone else it runs as that user.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

DEFAULT_BINDIR = "/usr/lib/postgresql/15/bin"
DATABASE = "bench"

# A competent user's tuning for a 2-core, 24 GiB machine; fsync stays on so that
# synchronous_commit=on really waits for the disk.
DEFAULT_SETTINGS: Mapping[str, str] = {
    "shared_buffers": "4GB",
    "effective_cache_size": "16GB",
    "maintenance_work_mem": "1GB",
    "work_mem": "64MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "random_page_cost": "1.1",
    "jit": "off",
    "fsync": "on",
    "synchronous_commit": "on",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _run(args: list[str], log: Path | None = None) -> None:
    result = subprocess.run(_as_postgres() + args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = log.read_text()[-3000:] if log and log.exists() else ""
        output = f"{result.stderr}{result.stdout}{tail}"
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{output}")


@contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit while inside, so that ``finally`` blocks still clean up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)

    def _exit(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    if previous is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        if previous is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, previous)


@contextmanager
def postgis_cluster(
    settings: Mapping[str, str] | None = None,
    extensions: tuple[str, ...] = ("postgis", "btree_gist"),
    bindir: str | None = None,
) -> Iterator[str]:
    """Start a private PostgreSQL cluster with PostGIS; yield its DSN; stop and delete it after.

    ``settings`` are added to (and override) ``DEFAULT_SETTINGS`` in ``postgresql.conf``.
    """
    bin_path = Path(bindir or os.environ.get("PG_BINDIR", DEFAULT_BINDIR))
    if not (bin_path / "initdb").exists():
        raise RuntimeError(f"no initdb in {bin_path}: apt-get install postgresql-15 postgresql-15-postgis-3")
    root = Path(tempfile.mkdtemp(prefix="bench-postgis-"))
    data, sock, log = root / "data", root / "socket", root / "server.log"
    started = False
    with _sigterm_as_exit():
        try:
            sock.mkdir()
            if os.geteuid() == 0:
                for path in (root, sock):
                    shutil.chown(path, "postgres", "postgres")
            _run([str(bin_path / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
            port = free_port()
            conf = {**DEFAULT_SETTINGS, **(settings or {})}
            conf.update({"listen_addresses": "'127.0.0.1'", "port": str(port)})
            conf["unix_socket_directories"] = f"'{sock}'"
            with (data / "postgresql.conf").open("a") as handle:
                handle.write("\n# bench/postgis.py\n")
                handle.writelines(f"{key} = {value}\n" for key, value in conf.items())
            _run([str(bin_path / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start"], log)
            started = True
            psql = [str(bin_path / "psql"), "-h", str(sock), "-p", str(port), "-U", "postgres", "-q"]
            if not (bin_path / "psql").exists():
                psql[0] = "psql"
            _run([*psql, "-d", "postgres", "-c", f"CREATE DATABASE {DATABASE}"], log)
            for extension in extensions:
                _run([*psql, "-d", DATABASE, "-c", f"CREATE EXTENSION IF NOT EXISTS {extension}"], log)
            yield f"host=127.0.0.1 port={port} user=postgres dbname={DATABASE}"
        finally:
            if started:
                stop = [str(bin_path / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-m", "fast", "stop"]
                subprocess.run(_as_postgres() + stop, capture_output=True, check=False)
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    with postgis_cluster() as dsn:
        print(f"started a throw-away PostGIS cluster: {dsn}")
