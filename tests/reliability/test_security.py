"""Security: token authentication never turned off by shipped code, servers on 127.0.0.1 by
default, experiment files read with a safe YAML loader, model code imported only from what
the user named."""

from __future__ import annotations

import ast
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests._helpers.reliability import ROOT, env, kill_leftovers

SHIPPED = [ROOT / "raytune_hpt", ROOT / "scripts", ROOT / "cluster"]


# -- token authentication ------------------------------------------------------------------
def _py_disables_auth(source: str) -> list[str]:
    """Code (not docstrings or messages) that sets RAY_AUTH_MODE / auth_mode to "disabled"."""
    found = []

    def is_disabled(node: ast.AST | None) -> bool:
        return isinstance(node, ast.Constant) and str(node.value).strip().lower() == "disabled"

    def names_auth(node: ast.AST | None) -> bool:
        return (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.upper() in ("RAY_AUTH_MODE", "AUTH_MODE")
        )

    for node in ast.walk(ast.parse(source)):
        if isinstance(
            node, ast.Dict
        ):  # {"RAY_AUTH_MODE": "disabled"} (env of a runtime_env, Popen...)
            found += [
                f"line {node.lineno}"
                for k, v in zip(node.keys, node.values, strict=True)
                if names_auth(k) and is_disabled(v)
            ]
        elif isinstance(node, ast.Assign):  # os.environ["RAY_AUTH_MODE"] = "disabled"
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and names_auth(target.slice)
                    and is_disabled(node.value)
                ):
                    found.append(f"line {node.lineno}")
        elif isinstance(
            node, ast.Call
        ):  # setdefault/putenv("RAY_AUTH_MODE", "disabled"), auth_mode="disabled"
            if len(node.args) >= 2 and names_auth(node.args[0]) and is_disabled(node.args[1]):
                found.append(f"line {node.lineno}")
            found += [
                f"line {node.lineno}"
                for kw in node.keywords
                if (kw.arg or "").upper() in ("RAY_AUTH_MODE", "AUTH_MODE")
                and is_disabled(kw.value)
            ]
    return found


_SHELL = re.compile(r"""RAY_AUTH_MODE\s*[=:]\s*["']?disabled|--auth-mode[= ]+["']?disabled""", re.I)
_ENV_ENTRY = re.compile(r"name:\s*[\"']?RAY_AUTH_MODE[\"']?\s*\n\s*value:\s*[\"']?disabled", re.I)
_DOCKER_ENV = re.compile(r"^\s*ENV\s+.*RAY_AUTH_MODE[= ]+[\"']?disabled", re.I | re.M)


def _text_disables_auth(text: str) -> list[str]:
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return [
        m.group(0) for pattern in (_SHELL, _ENV_ENTRY, _DOCKER_ENV) for m in pattern.finditer(code)
    ]


def _disables_auth(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return _py_disables_auth(text) if path.suffix == ".py" else _text_disables_auth(text)


def test_the_scanner_finds_auth_turned_off():
    planted_py = [
        'import os\nos.environ["RAY_AUTH_MODE"] = "disabled"\n',
        'import os\nos.environ.setdefault("RAY_AUTH_MODE", "disabled")\n',
        'ray.init(runtime_env={"env_vars": {"RAY_AUTH_MODE": "disabled"}})\n',
        'subprocess.run(cmd, env=dict(os.environ, RAY_AUTH_MODE="disabled"))\n',
    ]
    for source in planted_py:
        assert _py_disables_auth(source), source
    harmless = (
        'if os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled":\n'
        '    """RAY_AUTH_MODE=disabled"""\n'
    )
    assert not _py_disables_auth(harmless)
    for text in (
        "export RAY_AUTH_MODE=disabled\n",
        "RAY_AUTH_MODE='disabled' ray start --head\n",
        "env:\n  - name: RAY_AUTH_MODE\n    value: disabled\n",
        "ENV RAY_AUTH_MODE=disabled\n",
        "      RAY_AUTH_MODE: disabled\n",
    ):
        assert _text_disables_auth(text), text
    assert not _text_disables_auth(
        "# never: export RAY_AUTH_MODE=disabled\nexport RAY_AUTH_MODE=token\n"
    )


def test_shipped_code_never_turns_token_authentication_off():
    scanned, offenders = 0, {}
    for base in SHIPPED:
        for path in sorted(base.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                scanned += 1
                found = _disables_auth(path)
                if found:
                    offenders[str(path.relative_to(ROOT))] = found
    assert scanned > 30
    assert offenders == {}


def test_cluster_scripts_start_nodes_with_token_auth_on_127_0_0_1():
    up = (ROOT / "scripts" / "cluster_up.sh").read_text()
    assert "export RAY_AUTH_MODE=token" in up
    assert "--dashboard-host=127.0.0.1" in up and "--node-ip-address=127.0.0.1" in up
    assert "0.0.0.0" not in up


# -- servers bind to 127.0.0.1 ---------------------------------------------------------------
def _listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of the TCP sockets process ``pid`` listens on (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().as_posix()
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # LISTEN
                address, port = local.split(":")
                if width == 8:
                    ip = socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1])
                else:
                    ip = socket.inet_ntop(
                        socket.AF_INET6,
                        b"".join(bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, 32, 8)),
                    )
                found.add((ip, int(port, 16)))
    return found


def test_tensorboard_command_listens_on_127_0_0_1_only(tmp_path):
    experiment = tmp_path / "exp"
    (experiment / "tensorboard").mkdir(parents=True)
    (experiment / "raytune_hpt.json").write_text("{}")
    process = subprocess.Popen(
        [sys.executable, "-m", "raytune_hpt", "tensorboard", str(experiment), "--port", "0"],
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()  # printed once the server is up
        assert "TensorBoard for" in line, (
            process.stderr.read() if process.poll() is not None else line
        )
        deadline = time.monotonic() + 30
        while not _listening(process.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        sockets = _listening(process.pid)
        assert sockets and {ip for ip, _ in sockets} == {"127.0.0.1"}, sockets
        assert f":{next(iter(sockets))[1]}" in line
    finally:
        process.kill()
        process.wait(timeout=30)


def test_the_default_host_of_every_server_is_127_0_0_1():
    import inspect

    from raytune_hpt.cli import build_parser
    from raytune_hpt.tracking import serve_tensorboard

    assert inspect.signature(serve_tensorboard).parameters["host"].default == "127.0.0.1"
    parser = build_parser()
    tensorboard = parser.parse_args(["tensorboard", "somewhere"])
    assert tensorboard.host == "127.0.0.1"
    tuner_source = (ROOT / "raytune_hpt" / "driver" / "_ray_session.py").read_text()  # starts Ray
    assert (
        "include_dashboard=False" in tuner_source
    )  # a local Ray started by a search has no dashboard
    for path in (ROOT / "raytune_hpt").rglob("*.py"):
        assert "0.0.0.0" not in re.sub(
            r"#.*|\"\"\"[\s\S]*?\"\"\"|\"[^\"\n]*\"|'[^'\n]*'", "", path.read_text()
        ), path


# -- safe YAML ----------------------------------------------------------------------------------
def test_experiment_files_are_read_with_a_safe_loader(tmp_path):
    from raytune_hpt.experiment import ExperimentError, load_experiment

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.yaml"
    evil.write_text(f"model: !!python/object/apply:os.system ['touch {marker}']\ndata: digits\n")
    with pytest.raises(ExperimentError, match="YAML"):
        load_experiment(evil)
    assert not marker.exists()
    evil.write_text("model: !!python/name:os.system\ndata: digits\n")
    with pytest.raises(ExperimentError):
        load_experiment(evil)


def test_no_unsafe_yaml_loader_in_shipped_code():
    unsafe = re.compile(
        r"yaml\.(unsafe_load|full_load|load_all|load)\s*\(|Loader\s*=\s*yaml\.(Unsafe|Full)?Loader|UnsafeLoader"
    )
    for path in (ROOT / "raytune_hpt").rglob("*.py"):
        text = path.read_text()
        for match in unsafe.finditer(text):
            line = text[: match.start()].count("\n") + 1
            context = text.splitlines()[line - 1]
            assert "SafeLoader" in context, f"{path}:{line}: {context.strip()}"
    assert yaml.safe_load("a: 1") == {"a": 1}


# -- model code only from what the user named --------------------------------------------------
TRAP = (
    "import pathlib\npathlib.Path({marker!r}).write_text('imported')\n"
    "def build(hp):\n    return None\n"
)


def test_model_code_is_imported_only_from_the_file_named(tmp_path, monkeypatch):
    from raytune_hpt.experiment import ExperimentError, import_object

    experiment_dir, elsewhere = tmp_path / "experiment", tmp_path / "cwd"
    experiment_dir.mkdir()
    elsewhere.mkdir()
    (experiment_dir / "model.py").write_text("def build(hp):\n    return 'the named one'\n")
    # same-named files in the working directory and beside the file must never run
    (elsewhere / "model.py").write_text(TRAP.format(marker=str(tmp_path / "cwd-model")))
    (experiment_dir / "helpers.py").write_text(TRAP.format(marker=str(tmp_path / "sibling")))
    monkeypatch.chdir(elsewhere)
    monkeypatch.syspath_prepend(str(elsewhere))
    build = import_object("model.py:build", base_dir=str(experiment_dir))
    assert build(None) == "the named one"
    assert (
        Path(sys.modules[build.__module__].__file__).resolve()
        == (experiment_dir / "model.py").resolve()
    )
    assert not (tmp_path / "cwd-model").exists() and not (tmp_path / "sibling").exists()
    assert str(experiment_dir) not in sys.path  # the folder is not put on the import path

    # a file that does not define the named function is not executed at all
    (experiment_dir / "other.py").write_text(
        TRAP.format(marker=str(tmp_path / "other")).replace("build", "made")
    )
    with pytest.raises(ExperimentError, match="build"):
        import_object("other.py:build", base_dir=str(experiment_dir))
    assert not (tmp_path / "other").exists()


def test_the_cli_does_not_run_code_from_a_yaml_tag_or_an_unnamed_file(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.yaml").write_text(
        f"model: !!python/object/apply:os.system ['touch {marker}']\ndata: digits\n"
    )
    ray_tmp = tmp_path / "ray"
    result = subprocess.run(
        [sys.executable, "-m", "raytune_hpt", "run", "evil.yaml", "--dry-run"],
        cwd=tmp_path,
        env=env(ray_tmp),
        capture_output=True,
        text=True,
        timeout=120,
    )
    kill_leftovers(str(ray_tmp))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not marker.exists() and not ray_tmp.exists()
