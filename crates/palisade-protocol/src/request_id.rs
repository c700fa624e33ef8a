//! Request ids (`x-request-id`), the same on both listeners: a caller's id is kept when it
//! is short and plain (safe in logs, headers and audit records); otherwise a new
//! time-ordered id is minted, `req_` and a UUIDv7.

pub const HEADER: &str = "x-request-id";

/// The caller's id (the header's value, if any) when acceptable, else a new one.
pub fn accept_or_mint(value: Option<&[u8]>) -> String {
    value
        .and_then(|v| std::str::from_utf8(v).ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map_or_else(new_id, str::to_owned)
}

pub fn new_id() -> String {
    format!("req_{}", uuid::Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plain_ids_and_replaces_odd_ones() {
        assert_eq!(accept_or_mint(Some(b"abc-123")), "abc-123");
        assert!(accept_or_mint(Some(b"a b\"<script>")).starts_with("req_"));
        assert!(accept_or_mint(Some(&[b'a'; 65])).starts_with("req_"));
        assert!(accept_or_mint(None).starts_with("req_"));
    }
}
