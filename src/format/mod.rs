//! How ckptfs writes values as text, in one place for the tree ([`crate::render`]), the
//! checkpointctl views ([`crate::views`]), the command line and the error messages: times and
//! durations ([`time`]), sizes ([`size`]), addresses and socket names ([`net`]), escaping of
//! untrusted text ([`escape`]) and checkpointctl's table ([`table`]).
//!
//! The bottom of the layering: pure functions of their arguments that import nothing from the
//! rest of the crate, so every layer (even `source`) may use them.

pub mod escape;
pub mod net;
pub mod size;
pub mod table;
pub mod time;

pub use escape::{escape, escape_bytes};
pub use size::human_size;
