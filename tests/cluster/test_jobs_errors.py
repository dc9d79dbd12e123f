"""The jobs commands' answers when no cluster is there to talk to: one line each.

Exit 1 for an unreachable cluster (the same command may work once it is up or the tunnel is
open), exit 2 for a wrong address, a missing or unreadable token, or a file/storage/working
directory that cannot be submitted (nothing is sent). These run `raytune_hpt.cli.main` in
this process: no Ray is started, only HTTP requests are made.
"""

from __future__ import annotations

import http.server
import threading

import pytest

from raytune_hpt.cli import find_token, main
from tests._helpers.cluster import free_port


@pytest.fixture
def not_ray():
    """An HTTP server on 127.0.0.1 that is not a Ray dashboard (404 on every path)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    server.RequestHandlerClass.log_message = lambda *args: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def no_ray_settings(monkeypatch, tmp_path):
    for name in (
        "RAY_ADDRESS",
        "RAY_API_SERVER_ADDRESS",
        "RAY_AUTH_TOKEN",
        "RAY_AUTH_TOKEN_PATH",
        "RAY_AUTH_MODE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    return code, lines[0]


def test_an_unreachable_cluster_is_exit_1(capsys):
    code, line = run(capsys, "jobs", "list", "--address", f"http://127.0.0.1:{free_port()}")
    assert code == 1
    assert "cannot reach" in line and "Connection refused" in line and "tunnel" in line


def test_something_else_answering_is_a_wrong_address(capsys, not_ray):
    code, line = run(capsys, "jobs", "status", "some-job", "--address", not_ray)
    assert code == 2
    assert f"{not_ray} answered HTTP 404 but is not a Ray dashboard" in line


@pytest.mark.parametrize(
    "address, expected",
    [
        ("ray://127.0.0.1:10001", "is a Ray Client address"),
        ("auto", "not an HTTP address"),
        ("grpc://head:6379", "not an HTTP address"),
    ],
)
def test_addresses_that_are_not_the_jobs_api(capsys, address, expected):
    code, line = run(capsys, "jobs", "list", "--address", address)
    assert code == 2
    assert expected in line


def test_no_address_at_all(capsys):
    code, line = run(capsys, "jobs", "list")
    assert code == 2
    assert "no cluster address" in line and "RAY_ADDRESS" in line


def test_the_address_argument_wins_over_ray_address(capsys, monkeypatch, not_ray):
    monkeypatch.setenv("RAY_ADDRESS", f"http://127.0.0.1:{free_port()}")  # nothing there
    code, line = run(capsys, "jobs", "list", "--address", not_ray)
    assert code == 2 and not_ray in line
    monkeypatch.setenv("RAY_ADDRESS", not_ray.removeprefix("http://"))  # http:// is assumed
    code, line = run(capsys, "jobs", "list")
    assert code == 2 and not_ray in line


def test_an_unreadable_token_path_is_exit_2(capsys, monkeypatch, tmp_path, not_ray):
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "missing"))
    code, line = run(capsys, "jobs", "list", "--address", not_ray)
    assert code == 2
    assert "RAY_AUTH_TOKEN_PATH=" in line and "cannot be read" in line


def test_the_token_is_found_in_rays_order(monkeypatch, tmp_path):
    home = tmp_path / "home"
    (home / ".ray").mkdir(parents=True)
    assert find_token()[0] is None
    (home / ".ray" / "auth_token").write_text("from-default\n")
    assert find_token() == ("from-default", "~/.ray/auth_token")
    (tmp_path / "tok").write_text("from-path")
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "tok"))
    assert find_token()[0] == "from-path"
    monkeypatch.setenv("RAY_AUTH_TOKEN", "from-env")
    assert find_token() == ("from-env", "RAY_AUTH_TOKEN")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    assert find_token()[0] is None


def test_submit_checks_the_experiment_before_contacting_anyone(capsys, experiment_dir, tmp_path):
    unreachable = f"http://127.0.0.1:{free_port()}"
    tiny = str(experiment_dir / "tiny.yaml")

    code, line = run(capsys, "submit", tiny, "--address", unreachable)  # results would be lost
    assert (
        code == 2
        and line.startswith("raytune-hpt: error: storage_path:")
        and "--storage-path" in line
    )

    storage = str(tmp_path / "results")
    code, line = run(
        capsys,
        "submit",
        tiny,
        "--address",
        unreachable,
        "--storage-path",
        storage,
        "--working-dir",
        str(tmp_path / "elsewhere"),
    )
    assert code == 2 and "--working-dir" in line and "is not a folder" in line

    (tmp_path / "other").mkdir()
    code, line = run(
        capsys,
        "submit",
        tiny,
        "--address",
        unreachable,
        "--storage-path",
        storage,
        "--working-dir",
        str(tmp_path / "other"),
    )
    assert code == 2 and "must be inside the working directory" in line

    code, line = run(
        capsys,
        "submit",
        tiny,
        "--address",
        unreachable,
        "--storage-path",
        storage,
        "--working-dir",
        "local://relative/path",
    )
    assert code == 2 and "absolute path" in line

    code, line = run(
        capsys,
        "submit",
        tiny,
        "--address",
        unreachable,
        "--storage-path",
        storage,
        "--set",
        "searcher.type=bayes",
    )
    assert code == 2 and "searcher" in line

    moved = tmp_path / "code"
    moved.mkdir()
    (experiment_dir / "model.py").rename(moved / "model.py")
    (experiment_dir / "tiny.yaml").write_text(
        (experiment_dir / "tiny.yaml").read_text().replace("model.py:", "../code/model.py:")
    )
    code, line = run(capsys, "submit", tiny, "--address", unreachable, "--storage-path", storage)
    assert (
        code == 2
        and line.startswith("raytune-hpt: error: model:")
        and "outside the working directory" in line
    )

    # With the model inside a wider working directory, the checks pass and only then is the
    # (unreachable) cluster contacted: exit 1.
    code, line = run(
        capsys,
        "submit",
        tiny,
        "--address",
        unreachable,
        "--storage-path",
        storage,
        "--working-dir",
        str(tmp_path),
    )
    assert code == 1 and "cannot reach" in line
