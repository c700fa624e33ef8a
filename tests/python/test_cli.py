"""The `palisade` CLI: identity verbs against the running admin API, and `config check`."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import openai
import pytest

from conftest import PALISADE_BIN, SIM, Gateway


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def field(table: str, name: str) -> str:
    """The value of `name` in `print_one`'s `name   value` lines."""
    m = re.search(rf"^{re.escape(name)}\s+(\S+)\s*$", table, re.MULTILINE)
    assert m, f"no `{name}` line in:\n{table}"
    return m.group(1)


def test_cli_user_and_key_lifecycle(gateway: Gateway):
    """users create → keys create → the key works → keys list shows it → keys revoke → refused."""
    out = ok(gateway.run_cli("users", "create", "cli-user", "--group", "cli", "--group", "e2e"))
    assert field(out, "name") == "cli-user"
    assert field(out, "groups") == "cli,e2e"
    assert field(out, "id").startswith("usr_")

    out = ok(gateway.run_cli("keys", "create", "--user", "cli-user", "--name", "cli-key"))
    key_id = field(out, "id")
    key = re.search(r"^key: (\S+)$", out, re.MULTILINE).group(1)
    gateway.secrets.append(key)
    assert key.startswith("pal_")

    client = gateway.client(key)
    assert client.chat.completions.create(model=SIM, messages=[{"role": "user", "content": "from the CLI key"}]).choices

    listing = ok(gateway.run_cli("keys", "list", "--user", "cli-user"))
    assert listing.splitlines()[0].split()[:2] == ["ID", "USER_ID"]
    assert key_id in listing and key not in listing

    as_json = json.loads(ok(gateway.run_cli("keys", "list", "--json")))
    assert key_id in [k["id"] for k in as_json["data"]]

    out = ok(gateway.run_cli("keys", "revoke", key_id))
    assert field(out, "id") == key_id
    assert field(out, "revoked_at") != "-"
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model=SIM, messages=[{"role": "user", "content": "after revoke"}])


def test_cli_admin_token_lifecycle(gateway: Gateway):
    """tokens create --role auditor → it reads and may not write → tokens list → revoke → refused."""
    out = ok(gateway.run_cli("tokens", "create", "--role", "auditor", "--name", "cli-auditor"))
    token_id = field(out, "id")
    assert field(out, "role") == "auditor"
    token = re.search(r"^token: (\S+)$", out, re.MULTILINE).group(1)
    gateway.secrets.append(token)
    assert gateway.admin("GET", "/admin/v1/audit?limit=1", token=token).status_code == 200
    assert gateway.admin("POST", "/admin/v1/users", token=token, json={"name": "nope"}).status_code == 403
    # The CLI and the server's bootstrap token share PALISADE_ADMIN_TOKEN: a server started
    # where this auditor token is exported refuses to make it an irrevocable admin.
    served = subprocess.run(
        [str(PALISADE_BIN), "serve", "--config", str(gateway.config_path)],
        env={**gateway.env, "PALISADE_ADMIN_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert served.returncode != 0 and "bootstrap token must be a secret of its own" in served.stderr, served.stderr
    assert token not in served.stderr

    listing = ok(gateway.run_cli("tokens", "list"))
    assert listing.splitlines()[0].split()[:2] == ["ID", "ROLE"]
    assert token_id in listing and token not in listing

    out = ok(gateway.run_cli("tokens", "revoke", token_id))
    assert field(out, "id") == token_id and field(out, "revoked") == "true"
    assert gateway.admin("GET", "/admin/v1/audit?limit=1", token=token).status_code == 401


def test_cli_without_token_fails_clearly(gateway: Gateway):
    env = {k: v for k, v in gateway.env.items() if k != "PALISADE_ADMIN_TOKEN"}
    env["PALISADE_ADMIN_URL"] = gateway.admin_url
    result = subprocess.run([str(PALISADE_BIN), "users", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "PALISADE_ADMIN_TOKEN" in result.stderr


def test_cli_reports_api_errors(gateway: Gateway):
    result = gateway.run_cli("keys", "create", "--user", "no-such-user-anywhere")
    assert result.returncode != 0
    assert "404" in result.stderr and "not_found" in result.stderr


def test_config_check_accepts_good_file(gateway: Gateway):
    result = subprocess.run(
        [str(PALISADE_BIN), "config", "check", str(gateway.config_path)],
        env=gateway.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "ok" in ok(result)


def test_config_check_names_unknown_key(gateway: Gateway, tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text(gateway.config_path.read_text().replace("[server]\n", "[server]\nlisten_port = 3\n", 1))
    result = subprocess.run(
        [str(PALISADE_BIN), "config", "check", str(bad)], env=gateway.env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "listen_port" in result.stderr


def test_config_check_reads_the_files_the_config_names(gateway: Gateway, tmp_path: Path):
    """A policy file that does not validate fails `config check`, not the next restart."""
    policies = tmp_path / "broken.cedar"
    policies.write_text("permit(")
    bad = tmp_path / "bad-policy.toml"
    bad.write_text(f'[policy]\nfile = "{policies}"\n' + gateway.config_path.read_text())
    result = subprocess.run(
        [str(PALISADE_BIN), "config", "check", str(bad)], env=gateway.env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0, result.stdout
    assert "[policy]" in result.stderr, result.stderr


def test_config_default_is_valid(tmp_path: Path):
    """`config default` prints a file that `config check` accepts."""
    default = subprocess.run([str(PALISADE_BIN), "config", "default"], capture_output=True, text=True, timeout=60)
    path = tmp_path / "default.toml"
    path.write_text(ok(default))
    ok(subprocess.run([str(PALISADE_BIN), "config", "check", str(path)], capture_output=True, text=True, timeout=60))


def test_policy_check_validates_every_example_and_names_errors(tmp_path: Path):
    """`palisade policy check` accepts the shipped examples and the default set, and
    rejects a policy that reads an attribute the schema does not have, naming it."""
    from conftest import REPO_ROOT

    for example in sorted((REPO_ROOT / "examples" / "policies").glob("*.cedar")):
        assert "ok" in ok(subprocess.run([str(PALISADE_BIN), "policy", "check", str(example)], capture_output=True, text=True, timeout=60))
    default = tmp_path / "default.cedar"
    default.write_text(ok(subprocess.run([str(PALISADE_BIN), "policy", "default"], capture_output=True, text=True, timeout=60)))
    ok(subprocess.run([str(PALISADE_BIN), "policy", "check", str(default)], capture_output=True, text=True, timeout=60))
    bad = tmp_path / "bad.cedar"
    bad.write_text('@id("bad")\npermit(principal, action, resource is Palisade::Model) when { resource.colour == "red" };\n')
    result = subprocess.run([str(PALISADE_BIN), "policy", "check", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "colour" in result.stderr


def test_policy_explain_shows_the_decision_and_the_deciding_policy(gateway: Gateway):
    gateway.create_user("explained-user", ["explainers"])
    out = ok(gateway.run_cli("policy", "explain", "--user", "explained-user", "--model", SIM))
    assert "decision  allow" in out
    assert "decided by:" in out
    data = json.loads(ok(gateway.run_cli("policy", "explain", "--user", "explained-user", "--model", SIM, "--json")))
    assert data["decision"] == "allow"
    assert data["policies"], "an allow names the permitting policies"
    assert data["groups"] == ["explainers"]
