//! Request ids: a caller's `x-request-id` is kept when it is short and plain; otherwise a
//! new time-ordered id is minted.

use axum::http::HeaderMap;

pub const HEADER: &str = "x-request-id";

pub fn from_headers(headers: &HeaderMap) -> String {
    headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
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
        let mut h = HeaderMap::new();
        h.insert(HEADER, "abc-123".parse().unwrap());
        assert_eq!(from_headers(&h), "abc-123");
        h.insert(HEADER, "a b\"<script>".parse().unwrap());
        assert!(from_headers(&h).starts_with("req_"));
    }
}
