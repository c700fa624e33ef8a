//! Property tests (generated Visa numbers, IBANs, SSNs, e-mail, IPv4 and MAC addresses:
//! valid ones found with their exact span, a changed digit or an invalid part not; random
//! text never panics and spans stay on char boundaries) and the ignored timing check
//! (`cargo test --release -p palisade-scan pii_timing -- --ignored --nocapture`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use super::tests::{has, none_of, scan};
use super::*;
use proptest::prelude::*;

fn luhn_digit(body: &[u8]) -> u8 {
    // The check digit that makes `body + d` Luhn-valid.
    let mut sum = 0;
    for (i, &b) in body.iter().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    b'0' + ((10 - sum % 10) % 10) as u8
}

fn iban_with_check(cc: &str, bban: &str) -> String {
    let rearranged: String = format!("{bban}{cc}00");
    let mut rem = 0u32;
    for c in rearranged.chars() {
        let v = c.to_digit(36).unwrap();
        rem = if v < 10 {
            (rem * 10 + v) % 97
        } else {
            (rem * 100 + v) % 97
        };
    }
    format!("{cc}{:02}{bban}", 98 - rem)
}

proptest! {
    #[test]
    fn visa_found_and_flipped_not(body in "4[0-9]{14}", flip in 0usize..16, delta in 1u8..10) {
        let mut n = body.clone().into_bytes();
        n.push(luhn_digit(&n));
        let s = String::from_utf8(n.clone()).unwrap();
        let text = format!("paid with {s} yesterday");
        prop_assert!(has(&text, "credit_card", &s));
        let mut m = n;
        m[flip] = b'0' + (m[flip] - b'0' + delta) % 10;
        let t = String::from_utf8(m).unwrap();
        let text = format!("paid with {t} yesterday");
        prop_assert!(none_of(&text, "credit_card"));
    }

    #[test]
    fn generated_ibans_found(bban in "[0-9]{18}", spaced in any::<bool>()) {
        let iban = iban_with_check("DE", &bban);
        let shown = if spaced {
            iban.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(" ")
        } else {
            iban.clone()
        };
        prop_assert!(has(&format!("IBAN {shown}"), "iban", &shown), "{}", shown);
    }

    #[test]
    fn generated_gb_ibans_found(bank in "[A-Z]{4}", acct in "[0-9]{14}") {
        let iban = iban_with_check("GB", &format!("{bank}{acct}"));
        let text = format!("to {iban}.");
        prop_assert!(has(&text, "iban", &iban));
    }

    #[test]
    fn ibans_with_one_digit_changed_are_not_found(bban in "[0-9]{18}", at in 4usize..22, delta in 1u8..10) {
        // Mod-97 catches every single substitution: the changed IBAN is no IBAN.
        let iban = iban_with_check("DE", &bban);
        let mut changed = iban.into_bytes();
        changed[at] = b'0' + (changed[at] - b'0' + delta) % 10;
        let changed = String::from_utf8(changed).unwrap();
        prop_assert!(none_of(&format!("IBAN {changed}"), "iban"), "{}", changed);
    }

    #[test]
    fn valid_ssns_found_invalid_areas_not(
        area in 1u32..900, group in 1u32..100, serial in 1u32..10_000, dashed in any::<bool>(),
    ) {
        let sep = if dashed { "-" } else { " " };
        let ssn = format!("{area:03}{sep}{group:02}{sep}{serial:04}");
        let text = format!("my SSN is {ssn}.");
        if area == 666 {
            prop_assert!(none_of(&text, "us_ssn"), "{}", ssn);
        } else {
            prop_assert!(has(&text, "us_ssn", &ssn), "{}", ssn);
        }
        let bad = format!("{}{sep}{group:02}{sep}{serial:04}", 900 + area % 100);
        prop_assert!(none_of(&format!("my SSN is {bad}."), "us_ssn"), "{}", bad);
    }

    #[test]
    fn generated_emails_found_whole(
        local in "[a-z][a-z0-9]{0,10}([._+-][a-z0-9]{1,8}){0,2}",
        host in "[a-z][a-z0-9-]{0,12}[a-z0-9]",
        tld in "(com|org|io|de|co\\.uk|museum)",
    ) {
        let email = format!("{local}@{host}.{tld}");
        prop_assert!(has(&format!("write to <{email}>, please"), "email", &email), "{}", email);
        prop_assert!(has(&format!("mail {email}."), "email", &email), "{}", email);
    }

    #[test]
    fn ipv4_addresses_found_and_out_of_range_octets_not(
        octets in prop::array::uniform4(0u32..256), bad_at in 0usize..4, bad in 256u32..1000,
    ) {
        let ip = octets.map(|o| o.to_string()).join(".");
        prop_assert!(has(&format!("the server at {ip} answered"), "ip_address", &ip), "{}", ip);
        let mut wrong = octets;
        wrong[bad_at] = bad;
        let wrong = wrong.map(|o| o.to_string()).join(".");
        prop_assert!(none_of(&format!("the server at {wrong} answered"), "ip_address"), "{}", wrong);
    }

    #[test]
    fn mac_addresses_found(bytes in prop::array::uniform6(any::<u8>()), dash in any::<bool>(), upper in any::<bool>()) {
        let sep = if dash { "-" } else { ":" };
        let mac = bytes
            .map(|b| if upper { format!("{b:02X}") } else { format!("{b:02x}") })
            .join(sep);
        prop_assert!(has(&format!("device mac {mac} joined"), "mac_address", &mac), "{}", mac);
    }

    #[test]
    fn random_ascii_never_panics(text in "[ -~\n]{0,300}") {
        scan(&text);
    }

    #[test]
    fn random_unicode_never_panics(text in "\\PC{0,200}") {
        scan(&text);
    }

    #[test]
    fn pii_alphabet_never_panics(text in "[0-9A-Za-z @.:+()/<\\-é日]{0,200}") {
        scan(&text);
    }
}

#[test]
#[ignore]
fn pii_timing() {
    let para = "The quick brown fox jumps over the lazy dog while the committee reviews the \
                quarterly report. Please summarise the following meeting notes and highlight \
                any action items for the engineering team, keeping the tone neutral and short. ";
    let mut text = String::new();
    while text.len() < 1024 {
        text.push_str(para);
    }
    text.truncate(1024);
    let with_numbers = text
        .replace("quarterly", "Q3 2023")
        .replace("short", "under 250 words");
    let d = PiiDetector::new();
    for (name, t) in [("prose", &text), ("prose+numbers", &with_numbers)] {
        let mut out = Vec::new();
        let iters = 20_000;
        let start = std::time::Instant::now();
        for _ in 0..iters {
            out.clear();
            d.detect(std::hint::black_box(t), &mut out);
        }
        let per = start.elapsed().as_secs_f64() * 1e6 / f64::from(iters);
        println!(
            "{name}: {per:.3} µs per {} bytes ({} findings)",
            t.len(),
            out.len()
        );
    }
}
