//! The DNS wire format: a small codec for what a cluster DNS server reads and writes.

mod error;
mod message;
mod name;
mod record;

pub use error::WireError;
pub use message::{rcode, Header, Message, Question, CLASSIC_UDP_SIZE, EDNS_UDP_SIZE};
pub use name::{Compressor, Name};
pub use record::{rtype, RData, Record, CLASS_IN};
