//! Where and how long `streams sap://` and `play sap://NAME` listen for SAP announcements.

use std::net::Ipv4Addr;
use std::time::Duration;

use clap::Args;

use crate::net::sap_listen::SapListener;
use crate::rtp::sap::{ADMIN_GROUP, GLOBAL_GROUP};

/// Where and how long to listen for SAP.
#[derive(Debug, Clone, Args)]
pub struct SapArgs {
    /// A SAP group to listen on (repeatable; default: 224.2.127.254, where ffmpeg and VLC
    /// announce, and 239.255.255.255, where Dante and AES67 devices do).
    #[arg(long = "sap-group", value_name = "GROUP")]
    pub groups: Vec<Ipv4Addr>,
    /// The local interface address to join the SAP groups on (default: the system's choice).
    #[arg(long = "sap-interface", value_name = "ADDR")]
    pub sap_interface: Option<Ipv4Addr>,
    /// A session not heard for ten announcement intervals expires, but never sooner than this.
    #[arg(long, value_name = "DURATION", value_parser = super::duration::parse_duration, default_value = "60s")]
    pub sap_timeout: Duration,
}

impl SapArgs {
    /// Joins the groups asked for (both defaults when none was).
    pub fn listener(&self) -> anyhow::Result<SapListener> {
        let groups = if self.groups.is_empty() {
            vec![GLOBAL_GROUP, ADMIN_GROUP]
        } else {
            self.groups.clone()
        };
        Ok(SapListener::bind(
            &groups,
            self.sap_interface,
            self.sap_timeout,
        )?)
    }
}
