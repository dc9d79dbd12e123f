"""Secrets never travel or print (issue 31): redaction by key name and of URI credentials in
``run --dry-run``, in the experiment copy saved beside the results, and ``submit``'s refusal
to upload them. The rule lives in ``raytune_hpt._secrets``; these tests hold it to it."""

from __future__ import annotations

import pytest
import yaml

from raytune_hpt._secrets import is_secret_key, redact_uri, restore_redacted
from tests._helpers.cluster import clean_env, cli

SECRETS = ("tok-SECRET-1", "pw-SECRET-2", "pw-SECRET-3", "pw-SECRET-4")
EXPERIMENT = """\
name: creds
model: model.py:build
data:
  loader: data.py:load
  kwargs: {api_token: tok-SECRET-1, db_password: pw-SECRET-2, keep_models: 3,
           oov_token: "<OOV>", max_tokens: 500, use_auth_token: true,
           url: "https://alice:pw-SECRET-3@data.example.com/x.csv?version=2"}
objective: val_accuracy
tracking: {mlflow: "https://bob:pw-SECRET-4@mlflow.example.com/"}
"""


@pytest.fixture
def experiment_file(tmp_path):
    (tmp_path / "exp.yaml").write_text(EXPERIMENT)
    (tmp_path / "model.py").write_text("def build(hp):\n    pass\n")
    (tmp_path / "data.py").write_text("def load(**kwargs):\n    pass\n")
    return tmp_path / "exp.yaml"


@pytest.mark.parametrize("name", [
    "api_token", "apiToken", "password", "db_password", "passwd", "secret_key",
    "AWS_SECRET_ACCESS_KEY", "aws_access_key_id", "access_key", "api_key", "private_key",
    "session_token", "credentials", "client_secret", "X-Amz-Signature", "sig", "Authorization",
])
def test_secret_key_names(name):
    assert is_secret_key(name)


@pytest.mark.parametrize("name", [
    "keep_models", "keys", "key", "sort_key", "key_column", "monkey", "tokenizer",
    "max_tokens", "oov_token", "pad_token", "num_workers", "passes", "secretary",
])
def test_ordinary_key_names(name):
    assert not is_secret_key(name)


@pytest.mark.parametrize(("uri", "shown"), [
    ("https://u:pw@mlflow.example.com:5000/x", "https://<redacted>@mlflow.example.com:5000/x"),
    ("s3://AKIA:SK@bucket/p", "s3://<redacted>@bucket/p"),
    ("s3://b/p?secret_key=SK&region=eu", "s3://b/p?secret_key=<redacted>&region=eu"),
    ("hdfs://user@namenode/p", "hdfs://user@namenode/p"),  # a user name alone is no secret
    ("postgresql://optuna:pw@db:5432/study", "postgresql://<redacted>@db:5432/study"),
])
def test_uri_credentials_are_redacted_and_dropped_on_restore(uri, shown):
    assert redact_uri(uri) == shown
    assert "<redacted>" not in restore_redacted({"uri": shown})["uri"]


def test_dry_run_prints_no_secret(experiment_file):
    done = cli("run", experiment_file, "--dry-run", env=clean_env())
    assert done.returncode == 0, done.stderr
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr
    shown = yaml.safe_load(done.stdout.split("# valid")[0])
    kwargs = shown["data"]["kwargs"]
    assert kwargs["api_token"] == kwargs["db_password"] == "<redacted>"
    assert kwargs["url"] == "https://<redacted>@data.example.com/x.csv?version=2"
    assert (kwargs["keep_models"], kwargs["oov_token"], kwargs["max_tokens"]) == (3, "<OOV>", 500)
    assert kwargs["use_auth_token"] is True
    assert shown["tracking"]["mlflow"] == "https://<redacted>@mlflow.example.com/"


@pytest.mark.parametrize("storage", ["s3://b/p?secret_key=pw-SECRET-5", "s3://AK:pw-SECRET-5@b/p"])
def test_a_storage_uri_with_credentials_is_refused_without_printing_them(experiment_file,
                                                                         storage):
    done = cli("run", experiment_file, "--dry-run", "--storage-path", storage, env=clean_env())
    assert done.returncode == 2
    assert "pw-SECRET-5" not in done.stdout + done.stderr
    assert "storage_path: A storage URI must not carry" in done.stderr


def test_the_saved_experiment_holds_no_secret_and_resumes_with_the_environments(
        experiment_file, tmp_path):
    from raytune_hpt.experiment import load_experiment, load_saved_experiment, save_experiment

    target = save_experiment(load_experiment(experiment_file), str(tmp_path / "results"))
    text = open(target).read()
    for secret in SECRETS:
        assert secret not in text
    again = load_saved_experiment(str(tmp_path / "results"))
    assert again.data.kwargs == {"keep_models": 3, "oov_token": "<OOV>", "max_tokens": 500,
                                 "use_auth_token": True,
                                 "url": "https://data.example.com/x.csv?version=2"}
    assert again.tracking == {"mlflow": "https://mlflow.example.com/"}


@pytest.mark.parametrize(("extra", "named"), [
    ([], "data.kwargs.api_token, data.kwargs.db_password, data.kwargs.url, tracking.mlflow"),
    (["--set", "data.kwargs.api_token=tok-SECRET-1"], "data.kwargs.api_token"),
])
def test_submit_refuses_secrets_naming_each_before_any_contact(tmp_path, monkeypatch, capsys,
                                                               extra, named):
    from raytune_hpt.cli import main

    for name in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "exp.yaml").write_text(EXPERIMENT if not extra else
                                       "model: model.py:build\ndata: {loader: data.py:load}\n")
    (tmp_path / "model.py").write_text("def build(hp):\n    pass\n")
    (tmp_path / "data.py").write_text("def load(**kwargs):\n    pass\n")
    code = main(["submit", str(tmp_path / "exp.yaml"), "--storage-path", "s3://b/hpt",
                 "--address", "http://127.0.0.1:9", *extra])
    err = capsys.readouterr().err
    assert code == 2  # the address answers nothing: the refusal came first
    assert f"{named} holds a secret" in err
    assert "environment variables set on the nodes" in err
    for secret in SECRETS:
        assert secret not in err


@pytest.mark.parametrize(("storage", "args", "named"), [
    ("s3://AK:pw-SECRET-6@b/hpt", [], "--storage-path holds a secret"),
    ("s3://b/hpt", ["--", "--api-token", "tok-SECRET-1", "--keep-models", "3"],
     "--api-token holds a secret"),
    ("s3://b/hpt", ["--", "--db=https://u:pw-SECRET-3@db.example.com/x"],
     "the argument '--db=https://<redacted>@db.example.com/x' holds a secret"),
])
def test_submit_of_a_script_refuses_secrets_in_its_command_line(tmp_path, monkeypatch, capsys,
                                                                storage, args, named):
    from raytune_hpt.cli import main

    for name in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "train.py").write_text("print('searching')\n")
    code = main(["submit", str(tmp_path / "train.py"), "--storage-path", storage,
                 "--address", "http://127.0.0.1:9", *args])
    err = capsys.readouterr().err
    assert code == 2  # the address answers nothing: the refusal came first
    assert named in err and "job's command line" in err
    assert "-SECRET-" not in err
