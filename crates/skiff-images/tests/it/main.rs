//! Integration tests of skiff-images: one binary, one module per area.

mod fixtures;
mod gc;
mod import;
mod pull;
mod pull_auth;
