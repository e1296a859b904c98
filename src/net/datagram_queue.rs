//! A bounded, lock-free queue of datagrams from the network task to the decoder thread.
//!
//! Records live back to back in one preallocated byte ring (`len u16, arrival ns u64, sender
//! (family u8, address 16 bytes, port u16), bytes`),
//! so neither side allocates or locks, and the network task never waits: when the queue is full
//! the datagram is dropped and counted (the network task avoids that by leaving datagrams in the
//! socket while the queue lacks room, see `net::receive`).
//!
//! The decoder thread sleeps until its own next deadline. Only when it has asked to be woken
//! by data (while it waits for audio to start or resume) does a push unpark it; otherwise
//! datagrams wait in the queue, stamped with their arrival, until it next wakes.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::Thread;
use std::time::Duration;

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

/// Length, arrival, and the sender: family (0 none, 4, 6), address, port.
const HEADER: usize = 2 + 8 + ADDRESS;
const ADDRESS: usize = 1 + 16 + 2;

/// The network task's end.
pub struct DatagramSender {
    ring: HeapProd<u8>,
    record: Vec<u8>,
    wake: Option<Arc<DataWake>>,
}

/// How the network task wakes the decoder thread when it asked for data.
#[derive(Debug)]
pub struct DataWake {
    thread: Thread,
    wanted: AtomicBool,
}

impl DataWake {
    /// A wake for `thread` (the decoder thread), not wanted yet.
    pub fn new(thread: Thread) -> Arc<Self> {
        Arc::new(Self {
            thread,
            wanted: AtomicBool::new(false),
        })
    }

    /// The decoder asks to be unparked by the next push (or not).
    pub fn want(&self, wanted: bool) {
        self.wanted.store(wanted, Ordering::Release);
    }

    /// Unparks the decoder thread whether or not it asked (the queue is filling up).
    fn force(&self) {
        self.thread.unpark();
    }

    fn notify(&self) {
        if self.wanted.swap(false, Ordering::AcqRel) {
            self.thread.unpark();
        }
    }
}

/// The decoder thread's end.
pub struct DatagramReceiver {
    ring: HeapCons<u8>,
}

/// A queue holding up to `bytes` of datagrams (plus 10 bytes of header each).
pub fn datagram_queue(bytes: usize) -> (DatagramSender, DatagramReceiver) {
    let (mut p, mut c) = HeapRb::<u8>::new(bytes.max(4096)).split();
    // Touch every page now: the queue's memory is then resident from the start, the same
    // whatever traffic arrives (a flood cannot grow the process, only fill the queue).
    let cap = p.vacant_len();
    p.push_iter(std::iter::repeat_n(0u8, cap));
    c.skip(cap);
    let record = Vec::with_capacity(HEADER + usize::from(u16::MAX));
    (
        DatagramSender {
            ring: p,
            record,
            wake: None,
        },
        DatagramReceiver { ring: c },
    )
}

impl DatagramSender {
    /// Unparks the decoder thread after a push whenever it asked for data.
    pub fn set_wake(&mut self, wake: Arc<DataWake>) {
        self.wake = Some(wake);
    }

    /// Whether a datagram of `len` bytes fits now.
    pub fn has_room(&self, len: usize) -> bool {
        self.ring.vacant_len() >= HEADER + len
    }

    /// Wakes the decoder thread to drain the queue, whatever it asked for.
    pub fn wake_decoder(&self) {
        if let Some(w) = &self.wake {
            w.force();
        }
    }

    /// Queues `datagram` from `from`, stamped with `arrival`; false (nothing queued) when it
    /// does not fit.
    pub fn push(&mut self, datagram: &[u8], arrival: Duration, from: Option<SocketAddr>) -> bool {
        let Ok(len) = u16::try_from(datagram.len()) else {
            return false;
        };
        if self.ring.vacant_len() < HEADER + datagram.len() {
            return false;
        }
        let nanos = u64::try_from(arrival.as_nanos()).unwrap_or(u64::MAX);
        // One push per record: the write index moves once, so the consumer sees all or nothing.
        self.record.clear();
        self.record.extend_from_slice(&len.to_le_bytes());
        self.record.extend_from_slice(&nanos.to_le_bytes());
        self.record.extend_from_slice(&encode_address(from));
        self.record.extend_from_slice(datagram);
        self.ring.push_slice(&self.record);
        if let Some(w) = &self.wake {
            w.notify();
        }
        true
    }
}

impl DatagramReceiver {
    /// True when no datagram is waiting.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Takes the next datagram into `buf` (resized to fit) with its arrival time.
    pub fn pop(&mut self, buf: &mut Vec<u8>) -> Option<Duration> {
        self.pop_from(buf).map(|(arrival, _)| arrival)
    }

    /// Takes the next datagram into `buf` (resized to fit) with its arrival time and sender.
    pub fn pop_from(&mut self, buf: &mut Vec<u8>) -> Option<(Duration, Option<SocketAddr>)> {
        if self.ring.occupied_len() < HEADER {
            return None;
        }
        let mut header = [0u8; HEADER];
        self.ring.pop_slice(&mut header);
        let len = usize::from(u16::from_le_bytes([header[0], header[1]]));
        let mut nanos = [0u8; 8];
        nanos.copy_from_slice(&header[2..10]);
        let from = decode_address(&header[10..]);
        buf.resize(len, 0);
        // Records are pushed whole, so the payload is here once its header is.
        let got = self.ring.pop_slice(buf);
        debug_assert_eq!(got, len);
        buf.truncate(got);
        Some((Duration::from_nanos(u64::from_le_bytes(nanos)), from))
    }
}

fn encode_address(from: Option<SocketAddr>) -> [u8; ADDRESS] {
    let mut out = [0u8; ADDRESS];
    if let Some(a) = from {
        let (family, octets) = match a.ip() {
            IpAddr::V4(ip) => (4, ip.to_ipv6_mapped().octets()),
            IpAddr::V6(ip) => (6, ip.octets()),
        };
        out[0] = family;
        out[1..17].copy_from_slice(&octets);
        out[17..].copy_from_slice(&a.port().to_le_bytes());
    }
    out
}

fn decode_address(bytes: &[u8]) -> Option<SocketAddr> {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(&bytes[1..17]);
    let v6 = Ipv6Addr::from(octets);
    let ip = match bytes[0] {
        4 => IpAddr::V4(v6.to_ipv4_mapped()?),
        6 => IpAddr::V6(v6),
        _ => return None,
    };
    Some(SocketAddr::new(
        ip,
        u16::from_le_bytes([bytes[17], bytes[18]]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_come_out_whole_in_order_with_their_times() {
        let (mut tx, mut rx) = datagram_queue(4096);
        assert!(tx.push(b"first", Duration::from_millis(1), None));
        assert!(tx.push(
            &[7u8; 1200],
            Duration::from_millis(2),
            Some("10.0.0.1:5004".parse().unwrap())
        ));
        let mut buf = Vec::new();
        assert_eq!(rx.pop(&mut buf), Some(Duration::from_millis(1)));
        assert_eq!(buf, b"first");
        let from = rx.pop_from(&mut buf).map(|(_, from)| from);
        assert_eq!(from, Some(Some("10.0.0.1:5004".parse().unwrap())));
        assert_eq!(buf, vec![7u8; 1200]);
        assert!(tx.push(
            b"v6",
            Duration::ZERO,
            Some("[2001:db8::1]:9".parse().unwrap())
        ));
        let from = rx.pop_from(&mut buf).map(|(_, from)| from);
        assert_eq!(from, Some(Some("[2001:db8::1]:9".parse().unwrap())));
        assert_eq!(rx.pop(&mut buf), None);
    }

    #[test]
    fn a_push_unparks_the_decoder_only_when_it_asked() {
        let (mut tx, _rx) = datagram_queue(4096);
        let wake = DataWake::new(std::thread::current());
        tx.set_wake(Arc::clone(&wake));
        assert!(tx.push(b"a", Duration::ZERO, None));
        assert!(!wake.wanted.load(Ordering::Acquire));
        wake.want(true);
        assert!(tx.push(b"b", Duration::ZERO, None));
        assert!(
            !wake.wanted.load(Ordering::Acquire),
            "the push consumed the request"
        );
        // The unpark left a token: this returns at once instead of waiting an hour.
        std::thread::park_timeout(Duration::from_secs(3600));
    }

    #[test]
    fn a_full_queue_refuses_instead_of_blocking() {
        let (mut tx, _rx) = datagram_queue(4096);
        let accepted = (0..10)
            .filter(|_| tx.push(&[0u8; 1000], Duration::ZERO, None))
            .count();
        // Whole records only: 4,096 bytes hold three of 1,000 bytes plus the header.
        assert_eq!(accepted, 4096 / (HEADER + 1000));
        assert_eq!(accepted, 3);
    }
}
