//! Integration tests for skiff-scheduler (one test binary, modules per topic).

mod against_server;
