//! Unit tests: national ids (valid and broken checksums, formats, context rules),
//! dates of birth, passports (context and MRZ) and driving licences.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::checksum::*;
use super::tests::{found, has, none_of};

fn id_det(text: &str, value: &str) -> Option<String> {
    found(text)
        .into_iter()
        .find(|(k, v, _)| k == "national_id" && v == value)
        .map(|(_, _, d)| d)
}

#[test]
fn checksums() {
    assert!(luhn(b"4111111111111111") && !luhn(b"4111111111111112"));
    assert!(verhoeff(b"234123412346") && !verhoeff(b"234123412347"));
    assert!(iso7064_mod11_10(b"86095742719") && !iso7064_mod11_10(b"86095742718"));
    assert!(iso7064_mod11_2(b"11010519491231002", b'X'));
    assert!(elfproef(b"111222333") && !elfproef(b"111222334"));
    assert!(mrz_check(b"L898902C3", b'6'));
}

#[test]
fn uk_nino() {
    assert_eq!(
        id_det("NI: AB123456C", "AB123456C").as_deref(),
        Some("pii.national_id.uk_nino")
    );
    assert!(has("nino AB 12 34 56 C.", "national_id", "AB 12 34 56 C"));
    assert!(has("JG103759A", "national_id", "JG103759A"));
    for bad in [
        "QQ123456C",
        "GB123456A",
        "AO123456A",
        "DA123456A",
        "AB123456E",
        "AB1234567C",
    ] {
        assert!(none_of(bad, "national_id"), "{bad}");
    }
    assert!(none_of("AB123456", "national_id"));
    assert!(has(
        "national insurance AB123456",
        "national_id",
        "AB123456"
    ));
}

#[test]
fn de_steuer_id() {
    for ok in ["86095742719", "36 574 261 809", "65929970489"] {
        assert_eq!(
            id_det(&format!("Steuer-ID {ok}"), ok).as_deref(),
            Some("pii.national_id.de_steuer_id"),
            "{ok}"
        );
    }
    assert!(has("65929970489", "national_id", "65929970489"));
    for bad in ["86095742718", "12345678903", "06095742719"] {
        assert!(none_of(&format!("Steuer-ID {bad}"), "national_id"), "{bad}");
    }
}

#[test]
fn fr_nir() {
    assert_eq!(
        id_det("NIR 184127645108946", "184127645108946").as_deref(),
        Some("pii.national_id.fr_nir")
    );
    assert!(has(
        "sécu: 1 84 12 76 451 089 46",
        "national_id",
        "1 84 12 76 451 089 46"
    ));
    assert!(has("269029934173285", "national_id", "269029934173285"));
    assert!(none_of("184127645108947", "national_id"));
    assert!(none_of("584127645108946", "national_id"));
}

#[test]
fn es_dni_nie() {
    assert_eq!(
        id_det("DNI 12345678Z", "12345678Z").as_deref(),
        Some("pii.national_id.es_dni")
    );
    assert_eq!(
        id_det("NIE X1234567L", "X1234567L").as_deref(),
        Some("pii.national_id.es_nie")
    );
    assert!(has("12345678-Z", "national_id", "12345678-Z"));
    assert!(none_of("12345678A", "national_id"));
    assert!(none_of("X1234567A", "national_id"));
}

#[test]
fn it_codice_fiscale() {
    assert_eq!(
        id_det("CF: RSSMRA85T10A562S", "RSSMRA85T10A562S").as_deref(),
        Some("pii.national_id.it_codice_fiscale")
    );
    assert!(has("rssmra85t10a562s", "national_id", "rssmra85t10a562s"));
    assert!(none_of("RSSMRA85T10A562T", "national_id"));
    assert!(none_of("RSSMRA85Z10A562S", "national_id"));
}

#[test]
fn nl_bsn() {
    assert_eq!(
        id_det("BSN 111222333", "111222333").as_deref(),
        Some("pii.national_id.nl_bsn")
    );
    assert!(has(
        "burgerservicenummer: 1112.22.333",
        "national_id",
        "1112.22.333"
    ));
    assert!(none_of("111222333", "national_id"));
    assert!(none_of("BSN 111222334", "national_id"));
}

#[test]
fn in_aadhaar() {
    assert_eq!(
        id_det("2341 2341 2346", "2341 2341 2346").as_deref(),
        Some("pii.national_id.in_aadhaar")
    );
    assert!(has("aadhaar 234123412346", "national_id", "234123412346"));
    assert!(none_of("234123412346", "national_id"));
    assert!(none_of("2341 2341 2347", "national_id"));
    assert!(none_of("aadhaar 1341 2341 2346", "national_id"));
}

#[test]
fn br_cpf() {
    assert_eq!(
        id_det("CPF 529.982.247-25", "529.982.247-25").as_deref(),
        Some("pii.national_id.br_cpf")
    );
    assert!(has("52998224725", "national_id", "52998224725"));
    assert!(none_of("529.982.247-26", "national_id"));
    assert!(none_of("111.111.111-11", "national_id"));
}

#[test]
fn ca_sin() {
    assert_eq!(
        id_det("SIN: 046 454 286", "046 454 286").as_deref(),
        Some("pii.national_id.ca_sin")
    );
    assert!(has(
        "social insurance number 046-454-286",
        "national_id",
        "046-454-286"
    ));
    assert!(none_of("046 454 286", "national_id"));
    assert!(none_of("SIN 046 454 287", "national_id"));
}

#[test]
fn cn_resident_id() {
    assert_eq!(
        id_det("11010519491231002X", "11010519491231002X").as_deref(),
        Some("pii.national_id.cn_resident_id")
    );
    assert!(none_of("110105194912310021", "national_id"));
    assert!(none_of("11010519491331002X", "national_id"));
}

#[test]
fn se_personnummer() {
    assert_eq!(
        id_det("811218-9876", "811218-9876").as_deref(),
        Some("pii.national_id.se_personnummer")
    );
    assert!(has("19811218-9876", "national_id", "19811218-9876"));
    assert!(has("811218+9876", "national_id", "811218+9876"));
    assert!(has("personnummer 8112189876", "national_id", "8112189876"));
    assert!(none_of("811218-9875", "national_id"));
    assert!(none_of("8112189876", "national_id"));
}

#[test]
fn date_of_birth() {
    for (text, value) in [
        ("DOB: 1990-04-12", "1990-04-12"),
        ("born on 12/04/1990", "12/04/1990"),
        ("Geboren am 12.04.1990", "12.04.1990"),
        ("date of birth April 12, 1990", "April 12, 1990"),
        ("birthday: 12 April 1990", "12 April 1990"),
        ("née le 12 avril 1990", "12 avril 1990"),
        ("nacida el 12 de abril de 1990", "12 de abril de 1990"),
        ("data di nascita 12/04/90", "12/04/90"),
        ("born 12th April 1990", "12th April 1990"),
        ("Geburtsdatum: 29. Februar 1996", "29. Februar 1996"),
    ] {
        assert!(has(text, "date_of_birth", value), "{text}");
    }
    assert!(none_of("meeting on 1990-04-12", "date_of_birth"));
    assert!(none_of("DOB: 1990-02-30", "date_of_birth"));
    assert!(none_of("DOB: 1990-13-01", "date_of_birth"));
    assert!(none_of("born 29.02.1990", "date_of_birth"));
}

#[test]
fn passport() {
    assert!(has("passport no. 123456789", "passport", "123456789"));
    assert!(has("Reisepass: C01X00T47", "passport", "C01X00T47"));
    assert!(has("passeport 12AB34567", "passport", "12AB34567"));
    assert!(none_of("C01X00T47", "passport"));
    assert!(none_of("passport abc", "passport"));
    let mrz = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";
    let f = found(&format!("scan:\n{mrz}\nend"));
    assert!(
        f.iter()
            .any(|(k, v, d)| k == "passport" && v == mrz && d == "pii.passport.mrz"),
        "{f:?}"
    );
    let broken = "L898902C36UTO7408122F1204159ZE184226B<<<<<11";
    assert!(none_of(broken, "passport"));
}

#[test]
fn drivers_license() {
    assert!(has(
        "driving licence MORGA753116SM9IJ",
        "drivers_license",
        "MORGA753116SM9IJ"
    ));
    assert!(has(
        "Driver's License: D1234567",
        "drivers_license",
        "D1234567"
    ));
    assert!(has(
        "DL# A123-4567-8901-23",
        "drivers_license",
        "A123-4567-8901-23"
    ));
    assert!(none_of("MORGA753116SM9IJ", "drivers_license"));
    assert!(none_of("D1234567", "drivers_license"));
    assert!(none_of("license MORGA7531", "drivers_license"));
}
