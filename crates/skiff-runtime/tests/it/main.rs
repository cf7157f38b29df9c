//! Integration tests of the runc runtime: real runc, real shims, as root.

mod harness;
mod lifecycle;
