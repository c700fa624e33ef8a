//! US Social Security numbers: `AAA-GG-SSSS` with the SSA's assignment rules (area not
//! 000, 666 or 900–999; group not 00; serial not 0000). `AAA GG SSSS` and a bare
//! 9-digit run are reported only with SSN context.

use super::Kind;
use super::context::Tag;
use super::scan::{Run, Sink};

const DET: &str = "pii.us_ssn";

pub(crate) fn valid(d: &[u8]) -> bool {
    if d.len() != 9 || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let area = &d[..3];
    area != b"000" && area != b"666" && area[0] != b'9' && &d[3..5] != b"00" && &d[5..] != b"0000"
}

pub(crate) fn check(run: &Run<'_>, sink: &mut Sink<'_>) {
    let mut buf = [0u8; 9];
    for s in 0..run.n {
        if !run.g(s).digits || !run.starts_clean(s) {
            continue;
        }
        let lens = |e: usize, l: usize| e < run.n && run.g(e).len() == l && run.g(e).digits;
        if lens(s, 3) && lens(s + 1, 2) && lens(s + 2, 4) && run.ends_clean(s + 2) {
            let e = s + 2;
            let Some(9) = run.digits(s, e, &mut buf) else {
                continue;
            };
            if !valid(&buf) {
                continue;
            }
            let span = run.g(s).start..run.g(e).end;
            if run.seps_are(s, e, b"-") {
                sink.report(Kind::UsSsn, span, 0.80, Tag::Ssn, false, DET);
            } else if run.seps_are(s, e, b" ") {
                sink.report(Kind::UsSsn, span, 0.80, Tag::Ssn, true, DET);
            }
        } else if lens(s, 9) && run.ends_clean(s) {
            buf.copy_from_slice(&run.bytes[run.g(s).start..run.g(s).end]);
            if valid(&buf) {
                let span = run.g(s).start..run.g(s).end;
                sink.report(Kind::UsSsn, span, 0.80, Tag::Ssn, true, DET);
            }
        }
    }
}
