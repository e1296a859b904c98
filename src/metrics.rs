//! Counters and gauges the core updates and every view (status line, JSON, reports) reads.
