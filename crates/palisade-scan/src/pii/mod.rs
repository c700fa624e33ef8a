//! PII detection: emails, phone numbers, payment cards, IBANs, US SSNs, IP and MAC
//! addresses, dates of birth, passports (incl. MRZ), driving licences and national ids.
//!
//! # How a scan works
//! One [`PiiDetector`] is built once and shared. [`Detector::detect`] makes at most three
//! passes over the bytes, none of them allocating when nothing is found:
//! 1. `memchr` for `@` → hand-written e-mail validator around each hit ([`email`]).
//! 2. `memmem` for `<<` → ICAO 9303 TD3 machine-readable-zone lines ([`passport`]).
//! 3. A byte loop to the next ASCII digit; the alphanumeric token around it and the
//!    tokens joined to it by short separators form a [`scan::Run`] (on the stack), which
//!    every enabled validator inspects: cards, IBANs, national ids, SSN, IPv4/IPv6/MAC,
//!    phones, dates of birth, passport and licence numbers.
//!
//! Every candidate is validated (Luhn, mod-97, ISO 7064, Verhoeff, 11-proof, check
//! letters, date ranges, issuer ranges, country-code tables...) *before* any context is
//! looked at. Candidates must sit on word boundaries: a value inside a longer
//! alphanumeric token (ASCII or Unicode, `_` included) is not a match.
//!
//! # Scoring
//! Each validated candidate has a base score from the strength of its validation:
//!
//! | base | what |
//! |------|------|
//! | 0.95 | e-mail; MRZ uses 0.99 (five check digits) |
//! | 0.90 | IBAN (mod 97 + country length), CN resident id, IT codice fiscale |
//! | 0.85 | card (Luhn + issuer range + length), FR NIR, SE personnummer, formatted CPF, IPv6 |
//! | 0.80 | ES DNI/NIE, formatted Aadhaar, DE Steuer-ID, SSN `123-45-6789`, UK NINO, IPv4, MAC, phone with `+`/`00` and a valid country code |
//! | 0.70–0.75 | national phone formats (NANP 3-3-4, trunk-0 groups), compact CPF |
//!
//! Context is read from at most [`context::WINDOW`] bytes before the value (the
//! nearest matching word wins; words match case-insensitively on word boundaries):
//! * positive context for the kind (`card`, `visa`, `iban`, `ssn`, `phone`, `tel`,
//!   `call me`, `passport`, `DOB`, `geboren`…): `max(base + 0.10, 0.95)`, capped at 0.99;
//! * negative context (`order`, `invoice`, `tracking`, `ISBN`, `version`, `ref`…):
//!   `base − 0.35`, and the candidate is dropped below 0.5 (so phones, IPs and SSNs
//!   vanish, checksummed values survive with a low score). E-mails ignore it. A
//!   negative word counts only in the value's own sentence (`…the next release.
//!   Requests from 203.0.113.7…` is an address); positive words count across.
//! * context-required kinds emit only with positive context: `date_of_birth`,
//!   `passport` (except MRZ), `drivers_license`, NL BSN, CA SIN, unformatted SSN,
//!   compact Aadhaar, compact personnummer, phones without formatting.
//!
//! Overlapping findings are resolved once per scan: the more specific kind wins
//! (e-mail > MRZ > IBAN > card > national id > SSN > IP/MAC > passport > licence >
//! date of birth > phone), then the longer span, then the higher score.

mod card;
mod checksum;
mod context;
mod dob;
mod email;
mod iban;
mod ids_eu;
mod ids_world;
mod license;
mod network;
mod passport;
mod phone;
mod scan;
mod ssn;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ids;
#[cfg(test)]
mod tests_prop;

use crate::detector::Detector;
use crate::finding::{Category, Finding};
use context::ContextIndex;
use scan::{Run, Sink};

/// The PII kinds this detector can report, as used in `Finding::kind` and in
/// [`PiiDetector::with_entities`].
pub const ENTITIES: &[&str] = &[
    "email",
    "phone",
    "credit_card",
    "iban",
    "us_ssn",
    "ip_address",
    "mac_address",
    "date_of_birth",
    "passport",
    "drivers_license",
    "national_id",
];

/// Errors building a [`PiiDetector`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PiiError {
    #[error("unknown PII entity {0:?} (known: {known})", known = ENTITIES.join(", "))]
    UnknownEntity(String),
}

/// One PII kind; the discriminant indexes [`ENTITIES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Email = 0,
    Phone,
    CreditCard,
    Iban,
    UsSsn,
    IpAddress,
    MacAddress,
    DateOfBirth,
    Passport,
    DriversLicense,
    NationalId,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        ENTITIES[self as usize]
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// Higher wins when two findings overlap.
    fn priority(name: &str) -> u8 {
        match name {
            "email" => 10,
            "iban" => 8,
            "credit_card" => 7,
            "national_id" => 6,
            "us_ssn" => 5,
            "ip_address" | "mac_address" => 4,
            "passport" => 3,
            "drivers_license" => 2,
            "date_of_birth" => 1,
            _ => 0,
        }
    }
}

/// The PII detector. Build once, share everywhere.
pub struct PiiDetector {
    enabled: u16,
    ctx: ContextIndex,
}

impl std::fmt::Debug for PiiDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = ENTITIES
            .iter()
            .enumerate()
            .filter(|(i, _)| self.enabled & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect();
        f.debug_struct("PiiDetector")
            .field("entities", &names)
            .finish()
    }
}

impl Default for PiiDetector {
    fn default() -> Self {
        PiiDetector::new()
    }
}

impl PiiDetector {
    /// A detector for every kind in [`ENTITIES`].
    pub fn new() -> PiiDetector {
        PiiDetector {
            enabled: (1u16 << ENTITIES.len()) - 1,
            ctx: ContextIndex::new(),
        }
    }

    /// A detector for the named kinds only; an unknown name is an error.
    pub fn with_entities(entities: &[&str]) -> Result<PiiDetector, PiiError> {
        let mut enabled = 0u16;
        for name in entities {
            let idx = ENTITIES
                .iter()
                .position(|e| e == name)
                .ok_or_else(|| PiiError::UnknownEntity((*name).to_string()))?;
            enabled |= 1 << idx;
        }
        Ok(PiiDetector {
            enabled,
            ctx: ContextIndex::new(),
        })
    }

    fn on(&self, kind: Kind) -> bool {
        self.enabled & kind.bit() != 0
    }

    fn scan_runs(&self, sink: &mut Sink<'_>) {
        let bytes = sink.text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let Some(d) = scan::next_digit(bytes, i) else {
                break;
            };
            let mut t = d;
            while t > i && bytes[t - 1].is_ascii_alphanumeric() {
                t -= 1;
            }
            let run = Run::build(sink.text, t, i);
            let mut next = if run.truncated {
                // The next run re-reads the last groups, so a value across the cut is
                // seen whole (findings found twice are merged below).
                run.g(scan::MAX_GROUPS - scan::OVERLAP_GROUPS).start
            } else {
                run.end
            }
            .max(d + 1);
            // Fast path for a lone short number (`2023`, `12`): only a textual date or
            // an IPv6 address (`2001::1`, `::` is not a run separator) can start there.
            if run.n == 1 && run.g(0).len() <= 4 {
                if self.on(Kind::IpAddress) {
                    next = next.max(network::check_ipv6(&run, sink));
                }
                if self.on(Kind::DateOfBirth) {
                    dob::check(&run, sink);
                }
                i = next;
                continue;
            }
            if self.on(Kind::CreditCard) {
                card::check(&run, sink);
            }
            if self.on(Kind::Iban) {
                iban::check(&run, sink);
            }
            if self.on(Kind::NationalId) {
                ids_eu::check(&run, sink);
                ids_world::check(&run, sink);
            }
            if self.on(Kind::UsSsn) {
                ssn::check(&run, sink);
            }
            if self.on(Kind::IpAddress) {
                network::check_ipv4(&run, sink);
                next = next.max(network::check_ipv6(&run, sink));
            }
            if self.on(Kind::MacAddress) {
                network::check_mac(&run, sink);
            }
            if self.on(Kind::Passport) {
                passport::check(&run, sink);
            }
            if self.on(Kind::DriversLicense) {
                license::check(&run, sink);
            }
            if self.on(Kind::DateOfBirth) {
                dob::check(&run, sink);
            }
            if self.on(Kind::Phone) {
                phone::check(&run, sink);
            }
            i = next;
        }
    }
}

impl Detector for PiiDetector {
    fn name(&self) -> &'static str {
        "pii"
    }

    fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        let base = out.len();
        let mut sink = Sink::new(text, &self.ctx, out);
        if self.on(Kind::Email) {
            email::scan(&mut sink);
        }
        if self.on(Kind::Passport) {
            passport::scan_mrz(&mut sink);
        }
        self.scan_runs(&mut sink);
        if out.len() > base + 1 {
            resolve_overlaps(out, base);
        }
    }
}

/// Keeps one finding per overlapping cluster among `out[base..]`, by kind priority,
/// then span length, then score. In place, no allocation.
fn resolve_overlaps(out: &mut Vec<Finding>, base: usize) {
    let new = &mut out[base..];
    new.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let better = |a: &Finding, b: &Finding| {
        let (pa, pb) = (Kind::priority(&a.kind), Kind::priority(&b.kind));
        (pa, a.end - a.start, a.score) > (pb, b.end - b.start, b.score)
    };
    let mut w = base;
    for r in base..out.len() {
        if w > base && out[w - 1].overlaps(&out[r]) {
            if better(&out[r], &out[w - 1]) {
                out.swap(w - 1, r);
            }
        } else {
            out.swap(w, r);
            w += 1;
        }
    }
    out.truncate(w);
}

pub(crate) fn finding(
    kind: Kind,
    span: std::ops::Range<usize>,
    score: f32,
    det: &'static str,
) -> Finding {
    Finding::new(kind.name(), Category::Pii, span, score, det)
}
