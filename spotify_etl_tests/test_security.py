"""Security: secrets stay out of every log, store and screen; SQL is never built from text;
the embedded server listens on its socket only. (Zip member paths: test_bad_input.)"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import psycopg
from sqlalchemy.engine import make_url

import spotify_etl
from spotify_etl.lib.warehouse.embedded_postgres import start_embedded_server, stop_embedded_server
from spotify_etl_tests.conftest import CLI, cli_environment
from spotify_etl_tests.export_factory import play, write_json
from spotify_etl_tests.spotify_simulator import CLIENT_ID, CLIENT_SECRET, SimulatorServer, artist_obj, track_obj

DB_PASSWORD = "db-pass-3kq9v"
PACKAGE = Path(spotify_etl.__file__).parent


def test_secrets_never_reach_logs_metadata_storage_or_the_ui(database_url, tmp_path) -> None:
    home, raw_dir = tmp_path / "home", tmp_path / "raw"
    # Trust authentication ignores the password, so the run works with it in the URL.
    with_password = make_url(database_url).set(password=DB_PASSWORD).render_as_string(hide_password=False)
    with SimulatorServer() as server:
        artist = server.sim.add("artists", artist_obj("A" * 22, "Artist"))
        plays = []
        for i in range(5):
            track = server.sim.add("tracks", track_obj(f"T{i:021d}", f"Song {i}", [artist], "L" * 22, "Album"))
            plays.append(play(f"2024-05-0{i + 1}T10:00:00Z", uri=track["uri"]))
        write_json(raw_dir / "Streaming_History_Audio_2024_0.json", plays)
        env = cli_environment(
            SPOTIFY_ETL_DATABASE_URL=with_password,
            SPOTIFY_ETL_HOME=str(home),
            SPOTIFY_ETL_LOG_LEVEL="DEBUG",
            SPOTIPY_CLIENT_ID=CLIENT_ID,
            SPOTIPY_CLIENT_SECRET=CLIENT_SECRET,
            SPOTIFY_API_URL=server.api_url,
            SPOTIFY_TOKEN_URL=server.token_url,
        )
        run = subprocess.run(
            [CLI, "run", "--raw-dir", str(raw_dir)], env=env, capture_output=True, text=True, timeout=600
        )
        assert run.returncode == 0, run.stderr
        # What the UI shows of the code location: resources, config schema, assets.
        snapshot = subprocess.run(
            [
                sys.executable,
                "-c",
                "from spotify_etl.definitions import defs\n"
                "from dagster._core.remote_representation.external_data import RepositorySnap\n"
                "from dagster_shared.serdes import serialize_value\n"
                "print(serialize_value(RepositorySnap.from_def(defs.get_repository_def())))",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        ).stdout
        tokens = list(server.sim.issued_tokens)

    with psycopg.connect(database_url) as conn:
        assert (
            conn.execute("SELECT count(*) FROM staging.spotify_track_data").fetchone()[0] == 5
        )  # the secrets were used
    assert tokens and "SPOTIPY_CLIENT_SECRET" in snapshot
    # Every byte the run left: Dagster's run and event storage (metadata included), the JSON
    # log, the report; and what the command printed.
    stored = [(path, path.read_bytes()) for path in home.rglob("*") if path.is_file()]
    assert any(path.name == "spotify_etl.log" for path, _ in stored)
    assert any(path.suffix == ".db" for path, _ in stored)
    places = [
        *stored,
        (Path("stdout"), run.stdout.encode()),
        (Path("stderr"), run.stderr.encode()),
        (Path("ui"), snapshot.encode()),
    ]
    for secret in (CLIENT_SECRET, DB_PASSWORD, *tokens):
        leaks = [str(path) for path, data in places if secret.encode() in data]
        assert not leaks, f"{secret[:6]}… found in {leaks}"


# --- SQL is parameterised or composed -----------------------------------------------------------

_SQL_CALLS = {"execute", "executemany", "copy", "execute_sql_file"}
_SQL_WORDS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ", "COPY ", "CREATE ", "DROP ", "ALTER ", "TRUNCATE ")


def _built_from_text(node: ast.AST) -> bool:
    """An f-string, `%` or `+` on strings, or str.format: SQL made by pasting text."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        return any(
            isinstance(side, (ast.Constant, ast.JoinedStr)) and isinstance(getattr(side, "value", ""), str)
            for side in (node.left, node.right)
        )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return isinstance(node.func.value, (ast.Constant, ast.JoinedStr))
    return False


def _mentions_sql(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Constant) and isinstance(n.value, str) and any(w in n.value.upper() for w in _SQL_WORDS)
        for n in ast.walk(node)
    )


def test_sql_is_always_parameterised_or_composed_with_psycopg_sql() -> None:
    offences = []
    files = sorted(PACKAGE.rglob("*.py"))
    calls = 0
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
                if name in _SQL_CALLS and node.args:
                    calls += 1
                    if _built_from_text(node.args[0]):
                        offences.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {name}() of pasted text")
            # A query kept in a variable first is held to the same rule.
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                if _built_from_text(node.value) and _mentions_sql(node.value):
                    offences.append(f"{path.relative_to(PACKAGE)}:{node.lineno} SQL assembled from text")
    assert calls > 40, "the scan found the queries"
    assert not offences, offences


def test_the_scan_catches_pasted_sql() -> None:
    bad = ast.parse('conn.execute(f"SELECT * FROM {table}")\nq = "DELETE FROM t WHERE id = %s" % value\n')
    call, assign = bad.body[0].value, bad.body[1]
    assert _built_from_text(call.args[0])
    assert _built_from_text(assign.value) and _mentions_sql(assign.value)
    good = ast.parse('conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(t)), (x,))').body[0].value
    assert not _built_from_text(good.args[0])


# --- the embedded server ------------------------------------------------------------------------


def test_embedded_server_listens_only_on_its_unix_socket() -> None:
    home = Path(tempfile.mkdtemp(prefix="spotify_etl_socket_"))
    try:
        url = start_embedded_server(home)
        parsed = make_url(url)
        socket_dir = parsed.query.get("host") or parsed.host
        assert socket_dir and socket_dir.startswith("/"), url  # a directory: a Unix socket, not a host
        with psycopg.connect(url) as conn:
            assert conn.execute("SHOW listen_addresses").fetchone()[0] == ""
            postmaster = conn.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'").fetchone()
        server = psutil.Process(postmaster[0]).parent()
        assert "postgres" in server.name()
        inet = [c for c in server.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
        assert inet == []
        unix = [c for c in server.net_connections(kind="unix") if c.laddr]
        assert any(c.laddr.startswith(socket_dir) for c in unix)
    finally:
        stop_embedded_server(home)
        shutil.rmtree(home, ignore_errors=True)
