//! Integration tests of the node agent against a real `skiff server` (the binary is found via
//! `SKIFF_BIN` or the target directory), with the recording image and runtime services.

mod fixture;
mod pods;
mod simulated;
