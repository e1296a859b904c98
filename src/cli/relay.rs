//! `jitterplay relay`: forward UDP datagrams through a simulated bad network (a userspace netem).

use std::time::Duration;

use clap::Args;

use super::duration::parse_duration;
use super::send::{ctrl_c, runtime, traffic_servers};
use crate::net::relay::{Relay, RelayConfig};
use crate::netem::queue::QueueLimits;
use crate::netem::spec::ImpairSpec;
use crate::web::traffic::TrafficView;
use crate::web::Role;

/// Arguments of `relay`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  jitterplay relay --listen 127.0.0.1:6004 --to 127.0.0.1:5004 --impair \"delay=40ms,jitter=20ms,loss=2%,reorder=5%,seed=7\"
  ffmpeg -re -i tone.wav -c:a pcm_s16be -payload_type 96 -f rtp rtp://127.0.0.1:6004   # sender, into the relay
  jitterplay play rtp://127.0.0.1:5004 --format l16/48000/2                            # receiver, behind it
  jitterplay relay --listen 127.0.0.1:6004 --to 127.0.0.1:5004 --metrics-listen 127.0.0.1:9466
  jitterplay relay --listen 127.0.0.1:6004 --to 127.0.0.1:5004 --impair \"delay=25ms,loss=5%,seed=1\" --reverse \"delay=25ms,loss=5%,seed=2\"

Any datagrams are forwarded, RTP or not. RTCP travels both ways: listening port + 1 goes to
destination port + 1, and what the destination side sends back (to either forwarding socket:
muxed RTCP, or RTCP on + 1) returns to the last sender seen, through --reverse (default: a perfect
network). Forward RTCP (sender reports) takes --impair like the media. --no-rtcp relays one port only.
The first stdout line names the addresses; the last says what the relay did, both ways.")]
pub struct RelayArgs {
    /// Listen on ADDR:PORT (port 0 picks a free one; a multicast address joins the group).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: String,
    /// Forward to HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub to: String,
    /// The network to simulate: delay=40ms,jitter=20ms,loss=2%,burst=4,reorder=5%,dup=1%,seed=7 (default: perfect).
    #[arg(long, value_name = "SPEC")]
    pub impair: Option<ImpairSpec>,
    /// Stop receiving after this long, forward what is held, exit.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this long without a datagram (counted from the start too), forward what is held, exit.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Most datagrams held at once; more are dropped and counted as overflow (64 MiB also bounds it).
    #[arg(long, value_name = "N", default_value_t = QueueLimits::default().max_datagrams)]
    pub max_queue: usize,
    /// Multicast TTL (IPv6: hop limit) of forwarded datagrams; unicast TTL for a unicast destination.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=255))]
    pub ttl: Option<u32>,
    /// The network back from the destination side (RTCP, NACKs), same syntax as --impair (default: perfect).
    #[arg(long, value_name = "SPEC")]
    pub reverse: Option<ImpairSpec>,
    /// Relay only the one port: no RTCP on port + 1 (replies on the forwarding socket still go back).
    #[arg(long)]
    pub no_rtcp: bool,
    /// Local port forwarded datagrams leave from (RTCP: + 1), so the destination side can answer
    /// a known port (default: any free port).
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..65535))]
    pub out_port: Option<u16>,
    /// Serve the relay's counters as Prometheus/OpenMetrics text at http://ADDR:PORT/metrics.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Serve a live dashboard at http://ADDR:PORT/: what the impairment did to each leg, with /metrics and /stats.json.
    #[arg(long, value_name = "ADDR:PORT")]
    pub web: Option<std::net::SocketAddr>,
    /// After the stream ends, keep serving --metrics-listen's final values until one scrape has
    /// read them, at most this long (a scrape interval; 0s: stop at once).
    #[arg(long, value_name = "DURATION", value_parser = super::duration::parse_duration, default_value = "15s")]
    pub metrics_linger: std::time::Duration,
}

/// An impairment that changes nothing: the relay then only forwards.
fn perfect_network() -> ImpairSpec {
    ImpairSpec {
        impairment: Default::default(),
        drift_ppm: 0.0,
        seed: 1,
        edges: Default::default(),
    }
}

/// Runs `relay`, printing the addresses first and a summary line at the end to stdout.
pub fn run(args: RelayArgs) -> anyhow::Result<()> {
    let relay = Relay::bind(RelayConfig {
        listen: args.listen,
        to: args.to,
        impair: args.impair.unwrap_or_else(perfect_network),
        duration: args.duration,
        idle_timeout: args.idle_timeout,
        limits: QueueLimits {
            max_datagrams: args.max_queue,
            ..QueueLimits::default()
        },
        ttl: args.ttl,
        reverse: args.reverse.unwrap_or_else(perfect_network),
        rtcp: !args.no_rtcp,
        out_port: args.out_port,
    })?;
    let info = serde_json::json!({
        "listen": relay.local_addr().to_string(),
        "destination": relay.destination().to_string(),
    });
    let servers = traffic_servers(
        args.metrics_listen,
        args.web,
        Role::Relay,
        relay.metrics(),
        info,
        || TrafficView::relay(relay.metrics(), relay.local_addr(), relay.destination()),
    )?;
    match (relay.rtcp_local_addr(), relay.out_addr()) {
        (Some(rtcp), Some(out)) => println!(
            "relaying {} -> {} (rtcp {rtcp}, from {out})",
            relay.local_addr(),
            relay.destination()
        ),
        _ => println!("relaying {} -> {}", relay.local_addr(), relay.destination()),
    }
    let runtime = runtime()?;
    if let Some(servers) = &servers {
        servers.spawn_on(&runtime);
    }
    let report = runtime.block_on(relay.run(ctrl_c()))?;
    println!("{report}");
    if let Some(servers) = &servers {
        let stop = &super::stop_signal::STOP;
        runtime.block_on(servers.linger_async(args.metrics_linger, stop));
    }
    Ok(())
}
