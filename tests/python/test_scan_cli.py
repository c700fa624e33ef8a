"""`palisade scan`: the gateway's detectors on files and stdin, for CI pipelines. Exit 1
on findings, 0 when clean, 2 on errors; text, JSON and SARIF reports that never print
the matched value; `--redact`; user rules in gitleaks format."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import PALISADE_BIN, require_binary

AWS_KEY = "AKIAZ7Q4PLMR2WX5TYUV"
EMAIL = "ada.lovelace@example.org"


def scan(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    require_binary(PALISADE_BIN)
    return subprocess.run(
        [str(PALISADE_BIN), "scan", *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def test_clean_input_exits_zero():
    result = scan(stdin="What is the capital of France?\n")
    assert result.returncode == 0, result.stderr
    assert "0 finding(s)" in result.stdout


def test_findings_exit_one_and_never_print_the_value(tmp_path: Path):
    f = tmp_path / "notes.txt"
    f.write_text(f"line one\nmy key: {AWS_KEY}\nmail {EMAIL}\n")
    result = scan(str(f))
    assert result.returncode == 1
    assert f"{f}:2:9: secret" in result.stdout
    assert f"{f}:3:6: email" in result.stdout
    assert AWS_KEY not in result.stdout + result.stderr
    assert EMAIL not in result.stdout + result.stderr


def test_json_and_sarif_reports(tmp_path: Path):
    f = tmp_path / "a.txt"
    f.write_text(f"key {AWS_KEY}\n")
    items = json.loads(scan("--format", "json", str(f)).stdout)
    assert [(i["kind"], i["line"], i["start"], i["end"]) for i in items] == [("secret", 1, 4, 24)]
    assert items[0]["detector"].startswith("gitleaks:")
    sarif = json.loads(scan("--format", "sarif", str(f)).stdout)
    assert sarif["version"] == "2.1.0"
    result = sarif["runs"][0]["results"][0]
    assert result["ruleId"] == "secret"
    assert result["locations"][0]["physicalLocation"]["region"]["startColumn"] == 5


def test_redact_writes_the_redacted_text():
    result = scan("--redact", stdin=f"mail {EMAIL} key {AWS_KEY} ok")
    assert result.returncode == 1
    assert result.stdout == "mail [REDACTED_EMAIL] key [REDACTED_SECRET] ok"


def test_user_rules_in_gitleaks_format(tmp_path: Path):
    rules = tmp_path / "rules.toml"
    rules.write_text(
        'title = "acme"\n[[rules]]\nid = "acme-token"\ndescription = "Acme API token"\n'
        'regex = \'\'\'acme_[a-z0-9]{24}\'\'\'\nkeywords = ["acme_"]\n'
    )
    token = "acme_" + "k3j9x0q2m8v7w1z5r4t6y2u8"
    result = scan("--rules", str(rules), "--format", "json", stdin=f"token {token}\n")
    assert result.returncode == 1
    assert [i["detector"] for i in json.loads(result.stdout)] == ["gitleaks:acme-token"]


def test_errors_exit_two(tmp_path: Path):
    assert scan(str(tmp_path / "missing.txt")).returncode == 2
    assert scan("--profile", "nope", stdin="x").returncode == 2
    # A threshold outside 0..1 (a percentage typed by mistake) would pass every finding.
    result = scan("--threshold", "50", stdin=f"key {AWS_KEY}\n")
    assert result.returncode == 2 and "threshold" in result.stderr


def test_a_directory_is_scanned_file_by_file(tmp_path: Path):
    """`palisade scan .` walks the tree: hidden directories and binary files are skipped,
    and SARIF names each file by a URI reference."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "config notes.txt").write_text(f"key {AWS_KEY}\n")
    (tmp_path / "src" / "clean.txt").write_text("nothing to see\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "objects.txt").write_text(f"key {AWS_KEY}\n")
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01" + AWS_KEY.encode())
    require_binary(PALISADE_BIN)
    result = subprocess.run(
        [str(PALISADE_BIN), "scan", "--format", "sarif", "."],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    run = json.loads(result.stdout)["runs"][0]
    assert run["columnKind"] == "unicodeCodePoints"
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]]
    assert uris == ["./src/config%20notes.txt"], uris


def test_a_config_with_secrets_not_set_here_still_scans(tmp_path: Path):
    """A CI job scanning with the gateway's profiles has no provider key in its
    environment: `scan --config` reads the file anyway."""
    config = tmp_path / "palisade.toml"
    config.write_text(
        '[store]\nurl = "${PALISADE_TEST_DB_NOT_SET}"\n'
        '[[providers]]\nname = "up"\nkind = "openai"\nbase_url = "${PALISADE_TEST_URL_NOT_SET}"\n'
        'api_key = "${PALISADE_TEST_KEY_NOT_SET}"\n'
        '[[models]]\nname = "m"\nprovider = "up"\n'
        '[[scan.profiles]]\nname = "strict"\nactions = { secret = "block", banned = "block" }\n'
        'banned_terms = ["${jndi:"]\n'
    )
    result = scan("--config", str(config), "--profile", "strict", stdin=f"key {AWS_KEY}\n")
    assert result.returncode == 1, result.stderr
    # `${jndi:` is not a variable reference: the banned term stays as written.
    result = scan("--config", str(config), "--profile", "strict", "--format", "json", stdin="x ${jndi:ldap://h/a} y\n")
    assert result.returncode == 1, result.stderr
    assert [i["kind"] for i in json.loads(result.stdout)] == ["banned_term"], result.stdout
