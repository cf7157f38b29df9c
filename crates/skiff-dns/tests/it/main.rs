//! Integration tests of skiff-dns: a real server on 127.0.0.1 with in-memory cluster data
//! and a fake upstream resolver on 127.0.0.1 (tests never reach real resolvers).

mod server;
