//! Conversions to the API's time types (k8s-openapi uses jiff).

use std::time::SystemTime;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// The current time as an API `Time`.
pub fn now() -> Time {
    Time(Timestamp::now())
}

/// A system time as an API `Time` (the epoch if out of range).
pub fn from_system(t: SystemTime) -> Time {
    Time(Timestamp::try_from(t).unwrap_or(Timestamp::UNIX_EPOCH))
}
