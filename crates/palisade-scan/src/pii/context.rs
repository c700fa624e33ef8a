//! Context words: which words before a candidate raise or lower confidence in which
//! kind, the bounded look-behind window, and the scoring rule (see the module doc of
//! `pii` for the table). One Aho-Corasick automaton, built once per detector, run only
//! over the window of a validated candidate.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// How many bytes before a value are searched for context words.
pub(crate) const WINDOW: usize = 48;

/// What a context word is evidence for. Bits of a `u32` mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tag {
    Phone = 0,
    Card,
    Iban,
    Ssn,
    Ip,
    Mac,
    Dob,
    Passport,
    License,
    Nino,
    SteuerId,
    Nir,
    DniNie,
    CodiceFiscale,
    Bsn,
    Aadhaar,
    Cpf,
    Sin,
    CnId,
    Personnummer,
}

impl Tag {
    const fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

const NATIONAL: u32 = Tag::Nino.bit()
    | Tag::SteuerId.bit()
    | Tag::Nir.bit()
    | Tag::DniNie.bit()
    | Tag::CodiceFiscale.bit()
    | Tag::Bsn.bit()
    | Tag::Aadhaar.bit()
    | Tag::Cpf.bit()
    | Tag::Sin.bit()
    | Tag::CnId.bit()
    | Tag::Personnummer.bit();
/// Negative words never concern e-mails; they concern every other kind.
const NEG: u32 = u32::MAX;

const fn m(tags: &[Tag]) -> u32 {
    let mut acc = 0;
    let mut i = 0;
    while i < tags.len() {
        acc |= tags[i].bit();
        i += 1;
    }
    acc
}

/// (word, tags it is evidence for). Matching is ASCII-case-insensitive.
#[rustfmt::skip]
const POSITIVE: &[(&[&str], u32)] = &[
    (
        &[
            "phone", "tel", "tel.", "telephone", "mobile", "cell", "cellphone", "call",
            "call me", "fax", "whatsapp", "sms", "text me", "reach me", "contact", "telefon",
            "handy", "mobil", "téléphone", "tél", "portable", "teléfono", "móvil", "telefono",
            "cellulare", "ring me", "phone number", "mob",
        ],
        m(&[Tag::Phone]),
    ),
    (
        &[
            "card", "credit", "debit", "visa", "mastercard", "amex", "american express",
            "discover", "jcb", "diners", "unionpay", "maestro", "cc", "ccn", "card number",
            "karte", "kreditkarte", "carte", "tarjeta", "carta", "cb",
        ],
        m(&[Tag::Card]),
    ),
    (
        &[
            "iban", "account", "bank", "konto", "kontonummer", "compte", "cuenta", "conto",
            "bic", "swift", "transfer", "überweisung", "virement", "rib", "sepa",
        ],
        m(&[Tag::Iban]),
    ),
    (
        &[
            "ssn", "social security", "soc sec", "ss#", "ss no", "ssa", "itin",
        ],
        m(&[Tag::Ssn]),
    ),
    (
        &[
            "ip", "ipv4", "ipv6", "ip address", "host", "server", "client ip", "remote addr",
        ],
        m(&[Tag::Ip]),
    ),
    (
        &[
            "mac", "mac address", "hwaddr", "ether", "bssid", "hardware address",
        ],
        m(&[Tag::Mac]),
    ),
    (
        &[
            "born", "born on", "dob", "d.o.b", "d.o.b.", "date of birth", "birth date",
            "birthdate", "birthday", "geboren", "geburtsdatum", "geb.", "né", "née", "ne le",
            "nee le", "date de naissance", "nacido", "nacida", "fecha de nacimiento",
            "data di nascita", "nato il", "nata il", "geboortedatum", "born in",
        ],
        m(&[Tag::Dob]),
    ),
    (
        &[
            "passport", "passport no", "passport number", "reisepass", "passnummer", "pass-nr",
            "passeport", "pasaporte", "passaporto", "paspoort", "travel document",
        ],
        m(&[Tag::Passport]),
    ),
    (
        &[
            "driver's license", "drivers license", "driver license", "driving licence",
            "driving license", "driver's licence", "drivers licence", "licence", "license",
            "licence number", "license number", "dl", "dl#", "dln", "führerschein",
            "fuhrerschein", "permis de conduire", "licencia de conducir", "carnet de conducir",
            "patente",
        ],
        m(&[Tag::License]),
    ),
    (
        &[
            "nino", "national insurance", "ni number", "ni no", "insurance number",
        ],
        m(&[Tag::Nino]),
    ),
    (
        &[
            "steuer-id", "steuerid", "steuer id", "steueridentifikationsnummer",
            "identifikationsnummer", "idnr", "tax id", "tin", "steuernummer",
        ],
        m(&[Tag::SteuerId]),
    ),
    (
        &[
            "nir", "sécurité sociale", "securite sociale", "sécu", "insee", "carte vitale",
            "numéro de sécurité sociale",
        ],
        m(&[Tag::Nir]),
    ),
    (
        &["dni", "nie", "nif", "documento nacional"],
        m(&[Tag::DniNie]),
    ),
    (
        &["codice fiscale", "cf", "c.f.", "tessera sanitaria"],
        m(&[Tag::CodiceFiscale]),
    ),
    (
        &["bsn", "burgerservicenummer", "sofinummer", "sofi"],
        m(&[Tag::Bsn]),
    ),
    (&["aadhaar", "aadhar", "uid", "uidai"], m(&[Tag::Aadhaar])),
    (&["cpf", "cadastro de pessoas"], m(&[Tag::Cpf])),
    (
        &["sin", "social insurance", "nas", "assurance sociale"],
        m(&[Tag::Sin]),
    ),
    (
        &[
            "resident id", "身份证", "identity card", "id card", "citizen id",
        ],
        m(&[Tag::CnId]),
    ),
    (
        &[
            "personnummer", "personal identity number", "samordningsnummer", "personnr",
        ],
        m(&[Tag::Personnummer]),
    ),
    (
        &[
            "national id", "id number", "identity number", "id no", "id#", "personal id",
            "ausweis", "ausweisnummer", "identification number",
        ],
        NATIONAL,
    ),
];

#[rustfmt::skip]
const NEGATIVE: &[&str] = &[
        "order", "order no", "order number", "invoice", "invoice no", "tracking", "track",
        "isbn", "issn", "version", "ver.", "build", "sku", "serial", "part no", "ticket",
        "ref", "ref.", "reference", "transaction", "txn", "confirmation", "booking", "receipt",
        "shipment", "model", "item", "bestellung", "rechnung", "commande", "facture", "pedido",
        "factura", "release", "patch", "doi", "case", "batch", "lot",
    "firmware",
];

/// Evidence found before a candidate: the nearest context word decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Evidence {
    pub positive: bool,
    pub negative: bool,
}

pub(crate) struct ContextIndex {
    ac: Option<AhoCorasick>,
    /// Per pattern id: tags mask, and whether the word is negative.
    meta: Vec<(u32, bool)>,
}

impl ContextIndex {
    pub(crate) fn new() -> ContextIndex {
        let mut words: Vec<&str> = Vec::new();
        let mut meta = Vec::new();
        for (list, mask) in POSITIVE {
            for w in *list {
                words.push(w);
                meta.push((*mask, false));
            }
        }
        for w in NEGATIVE {
            words.push(w);
            meta.push((NEG, true));
        }
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&words)
            .ok();
        ContextIndex { ac, meta }
    }

    /// Context for `tag` in the [`WINDOW`] bytes before `start`.
    pub(crate) fn evidence(&self, text: &str, start: usize, tag: Tag) -> Evidence {
        let Some(ac) = &self.ac else {
            return Evidence::default();
        };
        let mut from = start.saturating_sub(WINDOW);
        while !text.is_char_boundary(from) {
            from += 1;
        }
        let window = &text.as_bytes()[from..start];
        let mut nearest: Option<(usize, bool)> = None;
        for mat in ac.find_iter(window) {
            let (mask, negative) = self.meta[mat.pattern().as_usize()];
            if mask & tag.bit() == 0 {
                continue;
            }
            let before = mat.start().checked_sub(1).map(|i| window[i]);
            let after = window.get(mat.end()).copied();
            if before.is_some_and(|b| b.is_ascii_alphanumeric())
                || after.is_some_and(|b| b.is_ascii_alphanumeric())
            {
                continue;
            }
            // A negative word speaks for its own sentence only: "the next release.
            // Requests from 203.0.113.7 were blocked" is an address, not a version.
            if negative && ends_sentence(&window[mat.end()..]) {
                continue;
            }
            // Later matches are nearer; LeftmostLongest yields them in order.
            nearest = Some((mat.end(), negative));
        }
        match nearest {
            Some((_, true)) => Evidence {
                positive: false,
                negative: true,
            },
            Some((_, false)) => Evidence {
                positive: true,
                negative: false,
            },
            None => Evidence::default(),
        }
    }
}

/// Whether `gap`, the text between a context word and a candidate, ends a sentence and
/// starts another: `.`, `?` or `!`, white space, then a word starting with a capital
/// letter before the candidate. `Order no. 4111…`, `Ver. 1.2.3.4` (nothing between the
/// stop and the value) and `the order no. is 020…`, `the release... which is` (the next
/// word in lower case: an abbreviation or an ellipsis) do not.
fn ends_sentence(gap: &[u8]) -> bool {
    gap.windows(2).enumerate().any(|(i, w)| {
        if !matches!(w[0], b'.' | b'?' | b'!') || !w[1].is_ascii_whitespace() {
            return false;
        }
        let rest = &gap[i + 2..];
        let word = rest
            .iter()
            .position(|b| !b.is_ascii_whitespace() && !b"\"'([".contains(b));
        // `gap` is whole characters and `at` follows ASCII only: a character starts there.
        word.is_some_and(|at| {
            std::str::from_utf8(&rest[at..])
                .ok()
                .and_then(|t| t.chars().next())
                .is_some_and(char::is_uppercase)
        })
    })
}

/// Applies context to a base score; `None` means "do not report".
pub(crate) fn score(base: f32, ev: Evidence, required: bool) -> Option<f32> {
    if ev.positive {
        return Some((base + 0.10).clamp(0.95, 0.99));
    }
    if required {
        return None;
    }
    if ev.negative {
        let s = base - 0.35;
        return (s >= 0.5).then_some(s);
    }
    Some(base)
}
