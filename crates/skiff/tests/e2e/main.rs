//! End-to-end tests: the real `skiff` binary driven by the real kubectl.

mod harness;

mod apply;
mod basics;
mod containers;
mod crd;
mod deployments;
mod errors;
mod join;
mod lifecycle;
mod metrics;
mod mutate;
mod pods;
mod probes;
mod seeds;
mod serviceaccounts;
mod storage;
mod streams;
