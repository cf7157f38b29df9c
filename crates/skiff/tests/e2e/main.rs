//! End-to-end tests: the real `skiff` binary driven by the real kubectl.

mod harness;
mod netlab;

mod apply;
mod basics;
mod containers;
mod crd;
mod daemonsets;
mod deployments;
mod disruption;
mod dns;
mod endpoints;
mod errors;
mod jobs;
mod join;
mod lifecycle;
mod metrics;
mod mutate;
mod network;
mod pods;
mod probes;
mod seeds;
mod serviceaccounts;
mod statefulsets;
mod storage;
mod streams;
