//! Deterministic jitter simulation: a seeded network model and a virtual audio device (sans-IO).
