//! Payload mappings scoped the way Wireshark scopes them: each SDP offer or answer binds its
//! payload types to the address and `m=` port where that side receives, from the moment the SDP
//! was captured until a later SDP (re-INVITE, UPDATE, the next call) rebinds that endpoint.
//!
//! A capture of several calls reuses dynamic payload types (PT 99 is L16/8000/2 in one call and
//! L16/48000 in the next), so one capture-wide table of payload types names every call but the
//! last wrongly. Scoping by endpoint and time names each call by its own SDP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::types::SdpSighting;
use crate::rtp::sdp::SdpPayload;
use crate::srtp::SrtpKeying;

/// SDPs a live capture keeps per endpoint.
pub const LIVE_PER_ENDPOINT: usize = 8;

/// Endpoints a live capture keeps SDPs for.
pub const LIVE_ENDPOINTS: usize = 65_536;

/// How a payload mapping was found for a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The SDP in force for the stream's receiver (or sender) address and port.
    Endpoint,
    /// No SDP in force for either endpoint names the payload type: the nearest mapping of it
    /// anywhere in the capture, which may belong to another call.
    CaptureWide,
}

/// One SDP's payload types for one receiving endpoint, from the time it was captured.
#[derive(Debug, Clone)]
struct Binding {
    at: Duration,
    payloads: Vec<SdpPayload>,
    /// The SRTP key this endpoint's side offered (SDES: the key it sends with).
    srtp: Result<Option<SrtpKeying>, String>,
}

/// Every payload mapping the capture's SDP made, by endpoint and time.
#[derive(Debug, Clone, Default)]
pub struct PayloadBindings {
    /// Per endpoint, its bindings in capture order.
    by_endpoint: HashMap<SocketAddr, Vec<Binding>>,
    /// SIP messages seen.
    pub sip_messages: u64,
    /// SDP bodies read from them.
    pub sdp_bodies: u64,
}

impl PayloadBindings {
    /// Binds every media description of `sightings` (in any order; sorted here by capture time).
    pub fn new(mut sightings: Vec<SdpSighting>, sip_messages: u64) -> Self {
        // SIP over TCP is gathered apart from the UDP datagrams: put everything in time order,
        // keeping capture order among equal times, so "the later SDP wins" holds.
        sightings.sort_by_key(|s| s.at);
        let mut bindings = PayloadBindings {
            sip_messages,
            sdp_bodies: sightings.len() as u64,
            ..Self::default()
        };
        for s in sightings {
            bindings.bind(s, usize::MAX);
        }
        bindings
    }

    /// Adds an SDP seen after every one before it (a live capture), counting it. Memory stays
    /// bounded however long it runs: an endpoint keeps its last [`LIVE_PER_ENDPOINT`] SDPs,
    /// and past [`LIVE_ENDPOINTS`] endpoints the older half (by last SDP) is forgotten.
    pub fn add(&mut self, sighting: SdpSighting) {
        self.sdp_bodies += 1;
        self.bind(sighting, LIVE_PER_ENDPOINT);
        if self.by_endpoint.len() > LIVE_ENDPOINTS {
            let mut last: Vec<Duration> = (self.by_endpoint.values())
                .filter_map(|l| l.last().map(|b| b.at))
                .collect();
            last.sort_unstable();
            let cut = last[last.len() / 2];
            self.by_endpoint
                .retain(|_, l| l.last().is_some_and(|b| b.at >= cut));
        }
    }

    /// Binds `s`'s media, each endpoint keeping its last `keep` SDPs.
    fn bind(&mut self, s: SdpSighting, keep: usize) {
        for m in s.media {
            // Without a c= line the message's sender is the best guess of where media goes.
            let Some(ip) = m.connection.or(s.sender.map(|a| a.ip())) else {
                continue;
            };
            let list = self
                .by_endpoint
                .entry(SocketAddr::new(ip, m.port))
                .or_default();
            list.push(Binding {
                at: s.at,
                payloads: m.payloads,
                srtp: m.srtp,
            });
            if list.len() > keep {
                list.drain(..list.len() - keep);
            }
        }
    }

    /// What payload type `pt` meant on a stream from `src` to `dst` at `at`: the mapping in force
    /// for the receiver, else for the sender (symmetric RTP sends from where it receives), else
    /// a capture-wide guess.
    pub fn lookup(
        &self,
        src: Option<SocketAddr>,
        dst: Option<SocketAddr>,
        pt: u8,
        at: Duration,
    ) -> Option<(&SdpPayload, Scope)> {
        let in_force = |endpoint: Option<SocketAddr>| {
            let list = self.by_endpoint.get(&endpoint?)?;
            // The last binding captured at or before `at`.
            let n = list.partition_point(|b| b.at <= at);
            list[..n].last()?.payloads.iter().find(|p| p.pt == pt)
        };
        if let Some(p) = in_force(dst).or_else(|| in_force(src)) {
            return Some((p, Scope::Endpoint));
        }
        self.guess(src, dst, pt, at)
            .map(|p| (p, Scope::CaptureWide))
    }

    /// The capture-wide guess: a mapping of `pt` on the stream's own ports first, then
    /// anywhere; among those, one already in force before one captured later; then the nearest
    /// in time.
    fn guess(
        &self,
        src: Option<SocketAddr>,
        dst: Option<SocketAddr>,
        pt: u8,
        at: Duration,
    ) -> Option<&SdpPayload> {
        let ports = [src.map(|a| a.port()), dst.map(|a| a.port())];
        self.by_endpoint
            .iter()
            .flat_map(|(endpoint, list)| list.iter().map(move |b| (endpoint, b)))
            .filter_map(|(endpoint, b)| {
                let p = b.payloads.iter().find(|p| p.pt == pt)?;
                let other_port = !ports.contains(&Some(endpoint.port()));
                let later = b.at > at;
                let distance = if later { b.at - at } else { at - b.at };
                // The endpoint breaks ties so the answer does not depend on hash order.
                Some(((other_port, later, distance, *endpoint), p))
            })
            .min_by_key(|(key, _)| *key)
            .map(|(_, p)| p)
    }

    /// The SRTP offer in force for `endpoint` at `at`: `Ok(None)` for plain RTP, `Err` for
    /// SRTP without a usable key; `None` if no SDP names the endpoint.
    pub fn srtp_in_force(
        &self,
        endpoint: Option<SocketAddr>,
        at: Duration,
    ) -> Option<&Result<Option<SrtpKeying>, String>> {
        let list = self.by_endpoint.get(&endpoint?)?;
        let n = list.partition_point(|b| b.at <= at);
        list[..n].last().map(|b| &b.srtp)
    }

    /// Every SRTP key offered anywhere in the capture, each once, in capture order.
    pub fn srtp_keys(&self) -> Vec<&SrtpKeying> {
        let mut bindings: Vec<&Binding> = self.by_endpoint.values().flatten().collect();
        bindings.sort_by_key(|b| b.at);
        let mut keys: Vec<&SrtpKeying> = Vec::new();
        for b in bindings {
            if let Ok(Some(k)) = &b.srtp {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        keys
    }

    /// True if no SDP bound anything.
    pub fn is_empty(&self) -> bool {
        self.by_endpoint.is_empty()
    }
}

#[cfg(test)]
#[path = "bindings_tests.rs"]
mod tests;
