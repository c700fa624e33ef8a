//! Upstream SSE bodies → decoded events, with an idle timeout between reads and bounds on
//! event size and total stream length. Provider adapters map the events to chunks.

use std::collections::VecDeque;
use std::time::Duration;

use futures::{Stream, StreamExt};
use palisade_protocol::sse::{SseDecoder, SseEvent};

use crate::UpstreamError;

/// Largest single SSE event accepted from an upstream.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;
/// Largest whole stream accepted from an upstream.
pub const MAX_STREAM_BYTES: usize = 256 * 1024 * 1024;

struct State {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    decoder: SseDecoder,
    queue: VecDeque<SseEvent>,
    seen: usize,
    idle: Duration,
    done: bool,
}

/// Decodes a streaming response into SSE events. The stream ends at the end of the body;
/// an `Err` item (timeout, broken connection, oversized event) is the last item.
pub fn sse_events(
    resp: reqwest::Response,
    idle: Duration,
) -> impl Stream<Item = Result<SseEvent, UpstreamError>> + Send {
    let state = State {
        body: resp.bytes_stream().boxed(),
        decoder: SseDecoder::new(MAX_EVENT_BYTES),
        queue: VecDeque::new(),
        seen: 0,
        idle,
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(ev) = st.queue.pop_front() {
                return Some((Ok(ev), st));
            }
            if st.done {
                return None;
            }
            match tokio::time::timeout(st.idle, st.body.next()).await {
                Err(_) => {
                    st.done = true;
                    return Some((Err(UpstreamError::Timeout), st));
                }
                Ok(None) => {
                    st.done = true;
                    if let Some(ev) = st.decoder.finish() {
                        st.queue.push_back(ev);
                    }
                }
                Ok(Some(Err(e))) => {
                    st.done = true;
                    return Some((Err(UpstreamError::StreamBroken(e.to_string())), st));
                }
                Ok(Some(Ok(bytes))) => {
                    st.seen += bytes.len();
                    if st.seen > MAX_STREAM_BYTES {
                        st.done = true;
                        let msg = format!("stream exceeds {MAX_STREAM_BYTES} bytes");
                        return Some((Err(UpstreamError::Protocol(msg)), st));
                    }
                    match st.decoder.feed(&bytes) {
                        Ok(events) => st.queue.extend(events),
                        Err(e) => {
                            st.done = true;
                            return Some((Err(UpstreamError::Protocol(e.to_string())), st));
                        }
                    }
                }
            }
        }
    })
}
