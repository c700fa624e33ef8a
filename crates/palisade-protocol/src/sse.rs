//! Server-sent events: a bounded incremental decoder for upstream streams and the
//! encoder for what Palisade sends. Only the fields LLM APIs use (`event`, `data`) are
//! kept; comments and `id`/`retry` lines are ignored.

use thiserror::Error;

/// One decoded event. `event` is `None` for unnamed events (OpenAI's style).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SseError {
    #[error("an SSE event exceeded {max} bytes")]
    EventTooLarge { max: usize },
    #[error("SSE stream is not valid UTF-8")]
    InvalidUtf8,
}

/// Incremental SSE decoder. Feed it bytes as they arrive; it returns the complete events
/// and buffers at most `max_event_bytes` of an incomplete one.
#[derive(Debug)]
pub struct SseDecoder {
    buf: Vec<u8>,
    /// Bytes at the start of `buf` already searched for a line end (the partial line):
    /// each feed searches only what is new, so a long line trickled in small pieces
    /// costs linear, not quadratic, time.
    searched: usize,
    event: Option<String>,
    data: Option<String>,
    max_event_bytes: usize,
    /// The last line ended with `\r`: a `\n` right after it is the same line end.
    after_cr: bool,
    /// Whether the stream's start was checked for a byte-order mark.
    bom_checked: bool,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseDecoder {
    pub fn new(max_event_bytes: usize) -> Self {
        SseDecoder {
            buf: Vec::new(),
            searched: 0,
            event: None,
            data: None,
            max_event_bytes,
            after_cr: false,
            bom_checked: false,
        }
    }

    /// Decodes every complete event in `bytes` (plus what was buffered before). Lines end
    /// with `\n`, `\r\n` or a lone `\r`, as the SSE format allows; a byte-order mark at
    /// the start of the stream is skipped.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        self.buf.extend_from_slice(bytes);
        if !self.bom_checked {
            if self.buf.len() < BOM.len() && BOM.starts_with(&self.buf) {
                return Ok(Vec::new());
            }
            if self.buf.starts_with(BOM) {
                self.buf.drain(..BOM.len());
            }
            self.bom_checked = true;
        }
        let mut events = Vec::new();
        let mut start = 0;
        let mut from = self.searched;
        while let Some(pos) = self.buf[from..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
        {
            let (line_start, end) = (start, from + pos);
            let cr = self.buf[end] == b'\r';
            let skip = !cr && self.after_cr && end == line_start;
            self.after_cr = cr;
            start = end + 1;
            from = start;
            if skip {
                continue;
            }
            let line = std::str::from_utf8(&self.buf[line_start..end])
                .map_err(|_| SseError::InvalidUtf8)?
                .to_owned();
            if let Some(ev) = self.take_line(&line)? {
                events.push(ev);
            }
        }
        self.buf.drain(..start);
        self.searched = self.buf.len();
        let pending = self.buf.len() + self.data.as_ref().map_or(0, String::len);
        if pending > self.max_event_bytes {
            return Err(SseError::EventTooLarge {
                max: self.max_event_bytes,
            });
        }
        Ok(events)
    }

    /// Flushes a final event that was not followed by a blank line.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let data = self.data.take()?;
        Some(SseEvent {
            event: self.event.take(),
            data,
        })
    }

    fn take_line(&mut self, line: &str) -> Result<Option<SseEvent>, SseError> {
        if line.is_empty() {
            return Ok(self.data.take().map(|data| SseEvent {
                event: self.event.take(),
                data,
            }));
        }
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                let data = self.data.get_or_insert_with(String::new);
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value);
                if data.len() > self.max_event_bytes {
                    return Err(SseError::EventTooLarge {
                        max: self.max_event_bytes,
                    });
                }
            }
            _ => {}
        }
        Ok(None)
    }
}

/// Encodes one unnamed `data:` event.
pub fn encode_data(data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 8);
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// Encodes one named event.
pub fn encode_event(event: &str, data: &str) -> String {
    format!("event: {event}\n{}", encode_data(data))
}

/// The terminator OpenAI sends at the end of a chat stream.
pub const DONE: &str = "data: [DONE]\n\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_events_split_across_reads() {
        let mut d = SseDecoder::new(1024);
        assert!(d.feed(b"data: {\"a\"").unwrap().is_empty());
        let evs = d.feed(b":1}\n\nevent: ping\ndata: x\r\n\r\n").unwrap();
        assert_eq!(
            evs,
            vec![
                SseEvent {
                    event: None,
                    data: "{\"a\":1}".into()
                },
                SseEvent {
                    event: Some("ping".into()),
                    data: "x".into()
                }
            ]
        );
    }

    #[test]
    fn any_split_of_a_stream_decodes_the_same() {
        let stream =
            b"data: one\r\n\nevent: e\ndata: two\ndata: lines\n\n: comment\ndata: {\"x\":3}\n\n";
        let whole = SseDecoder::new(1024).feed(stream).unwrap();
        assert_eq!(whole.len(), 3);
        for size in 1..stream.len() {
            let mut d = SseDecoder::new(1024);
            let mut events = Vec::new();
            for piece in stream.chunks(size) {
                events.extend(d.feed(piece).unwrap());
            }
            assert_eq!(events, whole, "pieces of {size} bytes");
        }
    }

    #[test]
    fn every_line_ending_and_a_byte_order_mark_decode_alike() {
        let lf = b"data: one\n\nevent: e\ndata: two\n\n".to_vec();
        let expected = SseDecoder::new(1024).feed(&lf).unwrap();
        assert_eq!(expected.len(), 2);
        let cr: Vec<u8> = lf
            .iter()
            .map(|&b| if b == b'\n' { b'\r' } else { b })
            .collect();
        let crlf = String::from_utf8(lf.clone()).unwrap().replace('\n', "\r\n");
        let bom = [BOM, lf.as_slice()].concat();
        for stream in [cr, crlf.into_bytes(), bom] {
            for size in 1..stream.len() {
                let mut d = SseDecoder::new(1024);
                let mut events = Vec::new();
                for piece in stream.chunks(size) {
                    events.extend(d.feed(piece).unwrap());
                }
                assert_eq!(events, expected, "{stream:?} in pieces of {size} bytes");
            }
        }
    }

    #[test]
    fn bounds_an_endless_event() {
        let mut d = SseDecoder::new(16);
        assert_eq!(
            d.feed(&[b'a'; 32]),
            Err(SseError::EventTooLarge { max: 16 })
        );
    }

    #[test]
    fn multi_line_data_joins_with_newline() {
        let mut d = SseDecoder::new(1024);
        let evs = d.feed(b"data: a\ndata: b\n\n").unwrap();
        assert_eq!(evs[0].data, "a\nb");
        assert_eq!(encode_data("a\nb"), "data: a\ndata: b\n\n");
    }
}
