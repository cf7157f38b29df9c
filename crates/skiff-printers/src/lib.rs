//! Table printers: the columns and cells kube-apiserver puts in a `meta.k8s.io/v1`
//! `Table` when a client (kubectl get) asks for `as=Table`.
//!
//! Pure functions over JSON objects; no I/O. Built-in resources follow
//! `pkg/printers/internalversion/printers.go` (always in wide mode, as the server
//! generates every column and lets the client drop priority-1 ones); resources
//! without a printer get the generic Name / Created At table; custom resources get
//! their CRD's `additionalPrinterColumns`.

mod column;
mod custom;
pub mod descriptions;
mod duration;
mod error;
mod format;
mod go_json;
mod json;
mod jsonpath;
mod printers;
mod registry;

pub use column::{Column, ColumnOwned};
pub use custom::CustomColumns;
pub use duration::{human_duration, short_human_duration};
pub use error::PrinterError;
pub use jsonpath::JsonPath;
pub use registry::{cells, columns, has_printer, row_conditions};
