//! Tests against upstream round-trip fixtures and hand-encoded kubectl-style bodies.

mod encoder;
mod errors;
mod fixtures;
mod kubectl_bodies;
mod wire_rules;
