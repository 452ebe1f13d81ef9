//! Core integration tests against the real test stack (two federating
//! Synapse homeservers). Start it with `tests/stack/stackctl up`; the tests
//! read its `stack.json` and fail loudly when it is missing.
//!
//! One binary for the whole crate: every extra binary that links matrix-sdk
//! costs minutes to link on the CI machine.
#![recursion_limit = "256"]

mod at_rest;
mod bench;
mod care_team;
mod devices;
mod messaging;
mod session;
mod stack;
mod verification;
