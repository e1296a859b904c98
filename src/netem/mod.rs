//! The seeded network model (sans-IO): what happens to each packet between sender and receiver.
//!
//! One model serves three users: `simulate` (virtual time), and `send --impair` and `relay`
//! (real sockets, through the [`queue::ImpairQueue`] that holds real datagrams until the
//! arrival times the model picks). [`spec::ImpairSpec`] is the command-line spelling of it.

pub mod edge_drop;
pub mod model;
pub mod queue;
pub mod spec;
