#!/usr/bin/env python3
"""Build the labelled scan-benchmark corpus: bench/scan/out/corpus.jsonl.

Python 3.11, standard library only, seeded and deterministic: the same seed and the same
filler file give a byte-identical corpus.

Each line is one prompt of about 1 KB (1,024 bytes +/- 10 %, UTF-8):

    {"id": "p00042",
     "text": "...",
     "bytes": 1031,
     "labels":    [{"type": "EMAIL", "subtype": "email", "start": 10, "end": 31,
                    "byte_start": 10, "byte_end": 31}, ...],
     "negatives": [{"type": "NEGATIVE", "subtype": "uuid", ...same offsets...}, ...]}

Offsets: `start`/`end` are CHARACTER offsets (Python str indices, Unicode code points),
`byte_start`/`byte_end` are UTF-8 BYTE offsets into the same text. Both are half-open.
Python tools (Presidio, detect-secrets) report characters; Rust tools report bytes.
Some templates contain non-ASCII words (Grüße, José, Müller ...) so the two differ.

Label types: EMAIL, PHONE, CREDIT_CARD, IBAN, US_SSN, IP_ADDRESS, SECRET.
`negatives` are hard negatives (order numbers, dates, versions, UUIDs, git hashes,
non-Luhn card-like numbers) that a detector should NOT flag.

Filler text is the label-0 (benign) rows of the s-labs injection validation set, read at run
time (it is not copied into the repository). Every entity is random and generated here;
none is real.
"""

import argparse
import base64
import csv
import json
import os
import random
import string
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FILLER_REL = os.path.join("shared", "data", "injection", "s-labs", "validation.csv")
# shared/ sits inside the checkout or beside it, depending on the machine.
FILLER_CANDIDATES = [os.path.join(HERE, "..", "..", FILLER_REL), os.path.join(HERE, "..", "..", "..", FILLER_REL)]

TARGET_BYTES = 1024
LOW, HIGH = int(TARGET_BYTES * 0.9), int(TARGET_BYTES * 1.1)  # 921 .. 1126

ALNUM = string.ascii_letters + string.digits
BASE32 = string.ascii_uppercase + "234567"
URLSAFE = ALNUM + "-_"


# ---------------------------------------------------------------------------
# Filler
# ---------------------------------------------------------------------------

def load_filler(path):
    """Benign sentences: label-0 rows, without anything that looks like an entity."""
    sentences = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["label"].strip() != "0":
                continue
            text = " ".join(row["text"].split())
            if not text or "@" in text or "://" in text or any(c.isdigit() for c in text):
                continue
            if text[-1] not in ".?!":
                text += "?" if text.split()[0].lower() in QUESTION_WORDS else "."
            sentences.append(text)
    if len(sentences) < 100:
        sys.exit(f"corpus.py: only {len(sentences)} usable filler sentences in {path}")
    return sentences


QUESTION_WORDS = {"what", "how", "why", "when", "where", "which", "who", "is", "are", "can",
                  "could", "should", "does", "do", "explain", "will", "would"}


# ---------------------------------------------------------------------------
# Entity generators. Each returns (value, subtype).
# ---------------------------------------------------------------------------

FIRST = ["anna", "ben", "carla", "dmitri", "elena", "farid", "grace", "hiro", "ines", "jonas",
         "kofi", "lena", "marco", "nadia", "oscar", "priya", "quinn", "rosa", "sven", "tariq"]
LAST = ["smith", "mueller", "dubois", "rossi", "garcia", "kowalski", "nguyen", "okafor",
        "jensen", "silva", "tanaka", "novak", "haddad", "larsen", "moreau", "fischer"]
DOMAINS = ["acme-corp.com", "northwind.io", "contoso.org", "globex.net", "initech.co.uk",
           "umbrella-labs.de", "wayne-ent.fr", "hooli.com", "mailbox.org", "fastmail.com"]


def gen_email(rng):
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f"{first}.{last}", f"{first}{rng.randint(1, 99)}", f"{first[0]}{last}",
                        f"{first}_{last}{rng.randint(1, 9)}", f"{last}+{rng.choice(['news', 'work', 'ops'])}"])
    return f"{local}@{rng.choice(DOMAINS)}", "email"


def digits(rng, n, first="0123456789"):
    return rng.choice(first) + "".join(rng.choice(string.digits) for _ in range(n - 1))


def gen_phone(rng):
    country = rng.choice(["us", "uk", "de", "fr"])
    style = rng.choice(["intl", "national"])
    if country == "us":
        area = rng.choice(["212", "415", "312", "617", "206", "303", "512", "646", "702", "919"])
        exch, line = digits(rng, 3, "23456789"), digits(rng, 4)
        if style == "intl":
            value = rng.choice([f"+1 {area} {exch} {line}", f"+1-{area}-{exch}-{line}", f"+1 ({area}) {exch}-{line}"])
        else:
            value = rng.choice([f"({area}) {exch}-{line}", f"{area}-{exch}-{line}", f"{area}.{exch}.{line}"])
    elif country == "uk":
        if rng.random() < 0.5:  # London landline 020 7xxx xxxx / 020 3xxx xxxx
            a, b = rng.choice("37") + digits(rng, 3), digits(rng, 4)
            value = f"+44 20 {a} {b}" if style == "intl" else f"020 {a} {b}"
        else:  # mobile 07[4-9]xx xxxxxx
            a, b = "7" + rng.choice("456789") + digits(rng, 2), digits(rng, 6)
            value = f"+44 {a} {b}" if style == "intl" else f"0{a} {b}"
    elif country == "de":
        if rng.random() < 0.5:  # Berlin 030 / Munich 089 landline
            city, sub = rng.choice(["30", "89"]), digits(rng, 8, "23456789")
            value = f"+49 {city} {sub}" if style == "intl" else f"0{city} {sub}"
        else:  # mobile 015x / 016x / 017x
            pre, sub = rng.choice(["151", "160", "170", "171", "172", "176"]), digits(rng, rng.choice([7, 8]), "123456789")
            value = f"+49 {pre} {sub}" if style == "intl" else f"0{pre} {sub}"
    else:  # fr: 0[1-5] landline, 06/07 mobile, written in pairs
        lead = rng.choice("1234567")
        pairs = " ".join(digits(rng, 2) for _ in range(4))
        value = f"+33 {lead} {pairs}" if style == "intl" else f"0{lead} {pairs}"
    return value, f"phone_{country}_{style}"


def luhn_complete(rng, prefix_digits, length):
    """Append random digits and a Luhn check digit to reach `length`."""
    body = [int(c) for c in prefix_digits]
    while len(body) < length - 1:
        body.append(rng.randint(0, 9))
    total = 0
    for i, d in enumerate(reversed(body)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    body.append((10 - total % 10) % 10)
    return "".join(str(d) for d in body)


def luhn_ok(number):
    total = 0
    for i, c in enumerate(reversed(number)):
        d = int(c)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def gen_credit_card(rng):
    brand = rng.choice(["visa", "mastercard", "mastercard2", "amex", "discover"])
    if brand == "visa":
        number = luhn_complete(rng, "4", 16)
    elif brand == "mastercard":
        number = luhn_complete(rng, str(rng.randint(51, 55)), 16)
    elif brand == "mastercard2":
        number = luhn_complete(rng, str(rng.randint(2221, 2720)), 16)
    elif brand == "amex":
        number = luhn_complete(rng, rng.choice(["34", "37"]), 15)
    else:
        number = luhn_complete(rng, rng.choice(["6011", "65"]), 16)
    sep = rng.choice(["", " ", "-"])
    if sep and len(number) == 15:
        number = f"{number[:4]}{sep}{number[4:10]}{sep}{number[10:]}"
    elif sep:
        number = sep.join(number[i:i + 4] for i in range(0, 16, 4))
    return number, f"card_{brand.rstrip('2')}"


IBAN_BBAN = {  # country: list of (kind, count) blocks; 'n' digits, 'a' upper letters, 'c' alnum upper
    "DE": [("n", 18)],
    "GB": [("a", 4), ("n", 14)],
    "FR": [("n", 10), ("c", 11), ("n", 2)],
    "ES": [("n", 20)],
    "IT": [("a", 1), ("n", 10), ("c", 12)],
    "NL": [("a", 4), ("n", 10)],
    "CH": [("n", 5), ("c", 12)],
    "BE": [("n", 12)],
}


def iban_check(country, bban):
    rearranged = bban + country + "00"
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    return f"{98 - int(numeric) % 97:02d}"


def iban_valid(iban):
    s = iban.replace(" ", "")
    return int("".join(str(int(c, 36)) for c in s[4:] + s[:4])) % 97 == 1


def gen_iban(rng):
    country = rng.choice(sorted(IBAN_BBAN))
    bban = ""
    for kind, count in IBAN_BBAN[country]:
        pool = {"n": string.digits, "a": string.ascii_uppercase, "c": string.ascii_uppercase + string.digits}[kind]
        bban += "".join(rng.choice(pool) for _ in range(count))
    iban = country + iban_check(country, bban) + bban
    assert iban_valid(iban)
    if rng.random() < 0.5:
        iban = " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
    return iban, f"iban_{country.lower()}"


def gen_ssn(rng):
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            break
    group, serial = rng.randint(1, 99), rng.randint(1, 9999)
    sep = "-" if rng.random() < 0.8 else " "
    return f"{area:03d}{sep}{group:02d}{sep}{serial:04d}", "ssn_dash" if sep == "-" else "ssn_space"


def gen_ip(rng):
    if rng.random() < 0.6:
        first = rng.choice([o for o in range(1, 224) if o not in (10, 127, 172, 192)])
        return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}", "ipv4"
    groups = [f"{rng.randint(0, 0xffff):x}" for _ in range(8)]
    groups[0] = rng.choice(["2001", "2a00", "2600", "2a02", "2c0f"])
    if rng.random() < 0.5:  # compressed form: 2001:db8::1 style
        return f"{groups[0]}:{groups[1]}:{groups[2]}::{groups[6]}:{groups[7]}", "ipv6_compressed"
    return ":".join(groups), "ipv6_full"


def rand_str(rng, pool, n):
    return "".join(rng.choice(pool) for _ in range(n))


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def gen_secret(rng):
    kind = rng.choice(["aws", "github", "slack", "stripe", "openai", "google", "pem", "jwt", "postgres"])
    if kind == "aws":
        value = "AKIA" + rand_str(rng, BASE32, 16)
    elif kind == "github":
        value = "ghp_" + rand_str(rng, ALNUM, 36)
    elif kind == "slack":
        value = f"xoxb-{digits(rng, 12, '123456789')}-{digits(rng, 13, '123456789')}-{rand_str(rng, ALNUM, 24)}"
    elif kind == "stripe":
        value = "sk_live_" + rand_str(rng, ALNUM, rng.choice([24, 34, 99]))
    elif kind == "openai":
        value = "sk-proj-" + rand_str(rng, URLSAFE, rng.choice([48, 64, 120]))
    elif kind == "google":
        value = "AIza" + rand_str(rng, URLSAFE, 35)
    elif kind == "pem":
        label = rng.choice(["RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY"])
        body = base64.b64encode(bytes(rng.randrange(256) for _ in range(rng.choice([121, 180])))).decode()
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        value = f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"
    elif kind == "jwt":
        header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        payload = b64url(json.dumps({"sub": str(rng.randint(10**6, 10**9)), "name": rng.choice(FIRST),
                                     "iat": rng.randint(1_600_000_000, 1_800_000_000)},
                                    separators=(",", ":")).encode())
        value = f"{header}.{payload}.{b64url(bytes(rng.randrange(256) for _ in range(32)))}"
    else:
        user = rng.choice(["app", "admin", "svc_orders", "reporting"])
        password = rand_str(rng, ALNUM, rng.randint(12, 20))
        host = rng.choice(["db.internal", "pg-replica-2.corp.lan", "pg-prod.acme-corp.com", "localhost"])
        value = f"postgres://{user}:{password}@{host}:5432/{rng.choice(['orders', 'app', 'analytics'])}"
    return value, f"secret_{kind}"


# Sentence templates around each entity. Some contain non-ASCII words on purpose.
TEMPLATES = {
    "EMAIL": ["Please send the report to {} before Friday.", "You can reach me at {} if anything breaks.",
              "Grüße, my address is {} for the follow-up.", "Forward the invoice to {}, thanks."],
    "PHONE": ["Call me on {} tomorrow morning.", "My number is {} if the line drops.",
              "Rückruf bitte unter {} nach der Besprechung.", "The support desk phone is {}."],
    "CREDIT_CARD": ["Charge it to my card {} please.", "The card number is {} and it expires soon.",
                    "José paid with {} last week.", "Use card {} for the renewal."],
    "IBAN": ["Wire the refund to IBAN {} by Monday.", "My bank account is {} at the local branch.",
             "Überweisung bitte auf {} senden.", "Payout account: {}."],
    "US_SSN": ["My social security number is {} for the form.", "SSN {} was entered on the application.",
               "The applicant's SSN: {}."],
    "IP_ADDRESS": ["The server at {} keeps timing out.", "Requests from {} were blocked by the firewall.",
                   "Please whitelist {} for the VPN.", "Müller's laptop had address {} during the incident."],
    "SECRET": ["Here is the key I am using: {} and it fails.", "My config has {} in it, is that a problem?",
               "token = {}", "Debug this connection, credential {} was rejected.",
               "Can you check why this does not work:\n{}\nthanks."],
}

GENERATORS = {"EMAIL": gen_email, "PHONE": gen_phone, "CREDIT_CARD": gen_credit_card, "IBAN": gen_iban,
              "US_SSN": gen_ssn, "IP_ADDRESS": gen_ip, "SECRET": gen_secret}

# Relative frequency of entity types among inserted entities.
TYPE_WEIGHTS = {"EMAIL": 3, "PHONE": 3, "CREDIT_CARD": 2, "IBAN": 2, "US_SSN": 2, "IP_ADDRESS": 2, "SECRET": 5}


# ---------------------------------------------------------------------------
# Hard negatives
# ---------------------------------------------------------------------------

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]


def gen_negative(rng):
    kind = rng.choice(["order", "order_long", "date_iso", "date_eu", "date_text", "version", "uuid",
                       "git_sha", "git_short", "non_luhn"])
    if kind == "order":
        value = f"#{rng.choice(['A', 'B', 'ORD', 'SO'])}-{digits(rng, 5, '123456789')}-{digits(rng, 4)}"
        sentence = "Order {} has not shipped yet."
    elif kind == "order_long":
        value = digits(rng, rng.choice([8, 9, 10, 12]), "123456789")
        sentence = "My order number is {} and tracking shows nothing."
    elif kind == "date_iso":
        value = f"{rng.randint(2015, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        sentence = "The release went out on {} without issues."
    elif kind == "date_eu":
        value = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(2015, 2030)}"
        sentence = "The meeting was moved to {}."
    elif kind == "date_text":
        value = f"{rng.choice(MONTHS)} {rng.randint(1, 28)}, {rng.randint(2015, 2030)}"
        sentence = "The contract ends on {}."
    elif kind == "version":
        value = f"v{rng.randint(0, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}"
        sentence = "We upgraded the library to {} yesterday."
    elif kind == "uuid":
        h = "".join(rng.choice("0123456789abcdef") for _ in range(32))
        h = h[:12] + "4" + h[13:16] + rng.choice("89ab") + h[17:]
        value = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        sentence = "The request id was {} in the logs."
    elif kind == "git_sha":
        value = "".join(rng.choice("0123456789abcdef") for _ in range(40))
        sentence = "The regression started at commit {}."
    elif kind == "git_short":
        value = "".join(rng.choice("0123456789abcdef") for _ in range(7))
        sentence = "Cherry-pick {} onto the release branch."
    else:  # 16 digits that look like a card but fail Luhn
        while True:
            value = "4" + digits(rng, 15)
            if not luhn_ok(value):
                break
        value = " ".join(value[i:i + 4] for i in range(0, 16, 4))
        sentence = "Internal reference {} is not a payment card."
    return sentence, value, kind


# ---------------------------------------------------------------------------
# Prompt assembly
# ---------------------------------------------------------------------------

def make_piece(sentence, value, label_type, subtype):
    """A sentence with one span: (text, (offset_in_text, length, type, subtype))."""
    offset = sentence.index("{}")
    return sentence.replace("{}", value, 1), (offset, len(value), label_type, subtype)


def build_prompt(rng, filler, with_entities, with_negatives):
    pieces = []  # (text, span_or_None)
    if with_entities:
        types = list(TYPE_WEIGHTS)
        weights = [TYPE_WEIGHTS[t] for t in types]
        for label_type in rng.choices(types, weights, k=rng.choice([1, 1, 2, 2, 3])):
            value, subtype = GENERATORS[label_type](rng)
            pieces.append(make_piece(rng.choice(TEMPLATES[label_type]), value, label_type, subtype))
    if with_negatives:
        for _ in range(rng.choice([1, 2])):
            sentence, value, kind = gen_negative(rng)
            pieces.append(make_piece(sentence, value, "NEGATIVE", kind))

    target = rng.randint(LOW + 40, HIGH - 40)
    special_bytes = sum(len(p[0].encode()) + 1 for p in pieces)
    fill = []
    size = special_bytes
    while size < target:
        s = rng.choice(filler)
        if size + len(s.encode()) + 1 > HIGH:
            break
        fill.append(s)
        size += len(s.encode()) + 1
    sequence = [(s, None) for s in fill]
    for piece in pieces:  # scatter the entity sentences among the filler
        sequence.insert(rng.randint(0, len(sequence)), piece)

    text = ""
    labels, negatives = [], []
    for i, (sentence, span) in enumerate(sequence):
        if i:
            text += " "
        if span:
            offset, length, label_type, subtype = span
            start = len(text) + offset
            end = start + length
            entry = {"type": label_type, "subtype": subtype, "start": start, "end": end}
            (negatives if label_type == "NEGATIVE" else labels).append(entry)
        text += sentence
    for entry in labels + negatives:
        entry["byte_start"] = len(text[:entry["start"]].encode())
        entry["byte_end"] = len(text[:entry["end"]].encode())
    return text, labels, negatives


def build(count, seed, filler):
    rng = random.Random(seed)
    prompts = []
    while len(prompts) < count:
        with_entities = rng.random() < 0.5
        with_negatives = rng.random() < 0.35
        text, labels, negatives = build_prompt(rng, filler, with_entities, with_negatives)
        size = len(text.encode())
        if not LOW <= size <= HIGH:
            continue  # rare: a large entity overshot; draw again (still deterministic)
        for entry in labels + negatives:
            assert text[entry["start"]:entry["end"]].encode() == text.encode()[entry["byte_start"]:entry["byte_end"]]
        prompts.append({"id": f"p{len(prompts):05d}", "text": text, "bytes": size,
                        "labels": labels, "negatives": negatives})
    return prompts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--filler", default=os.environ.get("SCAN_BENCH_FILLER"),
                        help="CSV with text,label columns (default: shared/data/injection/s-labs/validation.csv)")
    parser.add_argument("--out", default=os.path.join(HERE, "out", "corpus.jsonl"))
    args = parser.parse_args()

    filler_path = args.filler
    if not filler_path:
        found = [p for p in FILLER_CANDIDATES if os.path.exists(p)]
        if not found:
            sys.exit(f"corpus.py: filler not found (tried {FILLER_CANDIDATES}); pass --filler or SCAN_BENCH_FILLER")
        filler_path = os.path.normpath(found[0])
    filler = load_filler(filler_path)
    prompts = build(args.count, args.seed, filler)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for p in prompts:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")

    sizes = [p["bytes"] for p in prompts]
    counts = {}
    for p in prompts:
        for entry in p["labels"]:
            counts[entry["type"]] = counts.get(entry["type"], 0) + 1
    negatives = sum(len(p["negatives"]) for p in prompts)
    labelled = sum(1 for p in prompts if p["labels"])
    print(f"corpus: {len(prompts)} prompts -> {args.out}")
    print(f"  bytes: min {min(sizes)} mean {sum(sizes) / len(sizes):.0f} max {max(sizes)}")
    print(f"  prompts with entities: {labelled}; labels: {dict(sorted(counts.items()))}; hard negatives: {negatives}")


if __name__ == "__main__":
    main()
