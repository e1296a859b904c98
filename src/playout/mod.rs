//! Playout control: prebuffering, rebuffering and the drift-correcting resample ratio (sans-IO).
