//! The adaptive jitter buffer and its delay estimator (sans-IO: time is an argument).
