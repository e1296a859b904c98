//! The playback ring and the one `fill` every sink pulls through (cpal-free: devices, WAV and
//! null sinks in `output`, and the simulator's virtual device, all call the same code).
//!
//! The decoder side pushes into a lock-free SPSC ring ([`ring`]); the output side's
//! [`RingCallback::fill`] copies samples out, fills any shortfall with silence and counts an
//! underrun in [`OutputStats`], allocating nothing, taking no lock, making no syscall.

pub mod callback;
pub mod record_tap;
pub mod ring;
pub mod stats;

pub use callback::RingCallback;
pub use stats::OutputStats;
