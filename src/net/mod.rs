//! The network shell: UDP sockets, real-time RTP sending with pacing and impairment, the relay.
//!
//! Everything that decides lives in the sans-IO core; these modules only wire it to sockets,
//! timers and signals. [`pacing`] and the impairment queue ([`crate::netem`]) take time as an
//! argument and are unit-tested without a clock; [`sender`] and [`relay`] are the tokio loops
//! around them.

pub mod batch_recv;
pub mod bind;
pub mod datagram_queue;
pub mod file_source;
pub mod host_clock;
pub mod kernel_drops;
pub mod multicast_join;
pub mod pacing;
pub mod packet_saver;
pub mod receive;
pub mod ref_clock;
pub mod relay;
pub mod relay_error;
pub mod relay_legs;
pub mod rtcp_link;
pub mod rtp_url;
pub mod rtp_writer;
pub mod sap_announce;
pub mod sap_listen;
pub mod send_config;
mod send_loop;
pub mod send_report;
pub mod send_rtcp;
mod send_sdp;
pub mod sender;
pub mod socket;
pub mod stamped_recv;
pub mod stats;
pub mod traffic_metrics;
