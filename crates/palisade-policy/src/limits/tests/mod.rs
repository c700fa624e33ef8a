//! Tests of the limits engine, driven by a manual clock: `cases` holds behaviour every
//! backend must show, run by `memory` against the in-process backend and by `redis`
//! against a real `redis-server` (testkit harness), which also covers what only a
//! shared backend has: several instances, outages and fail modes, leases.

mod cases;
mod memory;
mod shared_redis;
mod support;
