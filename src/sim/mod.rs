//! Deterministic jitter simulation: a seeded network model and a virtual audio device (sans-IO).

pub mod impair_spec;
pub mod network;
pub mod scenario;
