//! `streams sap://` and `play sap://NAME`: sessions announced by SAP (RFC 2974), listed live or
//! played, following the announcer's updates and deletions.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::play::PlayArgs;
pub use super::sap_args::SapArgs;
use crate::rtp::sap_directory::{SapChange, SapEvent, SapSession};

/// One line per session for people: name, announcer, where, format, clock.
pub fn describe(s: &SapSession) -> String {
    match &s.stream {
        Ok(st) => {
            let format = st
                .primary()
                .map_or_else(|| "?".to_string(), |(pt, f)| format!("{f} (pt {pt})"));
            let ptime = st.ptime.map_or(String::new(), |p| {
                format!("  ptime {} ms", p.as_secs_f64() * 1e3)
            });
            let clock = match (&st.ts_refclk, &st.mediaclk) {
                (None, None) => String::new(),
                (r, m) => format!(
                    "  ts-refclk {}  mediaclk {}",
                    r.as_deref().unwrap_or("-"),
                    m.as_deref().unwrap_or("-")
                ),
            };
            format!(
                "{:?} from {}  {}:{}  {format}{ptime}{clock}",
                s.name, s.origin, st.connection.addr, st.port
            )
        }
        Err(why) => format!("{:?} from {}  not playable: {why}", s.name, s.origin),
    }
}

/// The JSON line of a change.
fn json(event: &SapEvent, t: f64) -> serde_json::Value {
    let s = &event.session;
    let stream = s.stream.as_ref().ok();
    serde_json::json!({
        "t": t,
        "change": event.change,
        "name": s.name,
        "origin": s.origin,
        "group": stream.map(|st| st.connection.addr.to_string()),
        "port": stream.map(|st| st.port),
        "format": stream.and_then(|st| st.primary()).map(|(_, f)| f.to_string()),
        "ptime_ms": stream.and_then(|st| st.ptime).map(|p| p.as_secs_f64() * 1e3),
        "ts_refclk": stream.and_then(|st| st.ts_refclk.clone()),
        "mediaclk": stream.and_then(|st| st.mediaclk.clone()),
        "playable": s.stream.as_ref().err(),
        "announcements": s.announcements,
        "sdp": s.sdp,
    })
}

/// `streams sap://`: prints each change as it happens (a line, or JSON with `--json`), until
/// `duration` or a signal; then the sessions still announced.
pub fn list(sap: &SapArgs, json_lines: bool, duration: Option<Duration>) -> anyhow::Result<()> {
    super::stop_signal::install();
    let mut listener = sap.listener()?;
    let started = Instant::now();
    let stop = &super::stop_signal::STOP;
    while !stop.load(Ordering::Acquire) && duration.is_none_or(|d| started.elapsed() < d) {
        for event in listener.poll() {
            let t = started.elapsed().as_secs_f64();
            if json_lines {
                println!("{}", json(&event, t));
            } else {
                let mark = match event.change {
                    SapChange::New => "+",
                    SapChange::Updated => "~",
                    SapChange::Deleted => "-",
                    SapChange::Expired => "x",
                };
                println!("{t:7.1}s {mark} {}", describe(&event.session));
            }
        }
    }
    if !json_lines {
        let sessions: Vec<_> = listener.directory().sessions().collect();
        println!("{} session(s) announced:", sessions.len());
        for s in sessions {
            println!("  {}", describe(s));
        }
        let c = listener.directory().counts();
        if c.refused + c.over_capacity > 0 {
            println!(
                "  ({} SAP packets read, {} refused, {} new sessions over capacity)",
                c.packets, c.refused, c.over_capacity
            );
        }
    }
    Ok(())
}

/// Whether `session` is the one `name` asks for (any playable one when `name` is empty).
fn wanted(session: &SapSession, name: &str) -> bool {
    session.stream.is_ok() && (name.is_empty() || session.name == name)
}

/// `play sap://NAME`: waits for the session, plays it, and when its announcer updates it
/// (another group, port or format) plays the new description; a deletion ends playback.
pub fn play(name: &str, args: &PlayArgs, quiet: bool) -> anyhow::Result<()> {
    super::stop_signal::install();
    let name = percent_decode(name);
    let mut listener = args.sap.listener()?;
    let global = &super::stop_signal::STOP;
    tracing::info!(session = %name, "waiting for the SAP announcement");
    let started = Instant::now();
    let mut current = loop {
        if global.load(Ordering::Acquire) {
            return Ok(());
        }
        if args.idle_timeout.is_some_and(|t| started.elapsed() > t) {
            anyhow::bail!("no SAP announcement of {name:?} within --idle-timeout");
        }
        if let Some(e) = listener.poll().into_iter().find(|e| {
            matches!(e.change, SapChange::New | SapChange::Updated) && wanted(&e.session, &name)
        }) {
            break e.session;
        }
    };
    loop {
        if !quiet {
            eprintln!("playing SAP session {}", describe(&current));
        }
        let Ok(sdp) = current.stream.clone() else {
            anyhow::bail!("the session cannot be played");
        };
        // Playback stops when the session changes or is deleted, or on a signal.
        let restart = Arc::new(AtomicBool::new(false));
        let next: Arc<std::sync::Mutex<Option<SapEvent>>> = Arc::default();
        let watcher = {
            let (restart, next, identity) = (
                Arc::clone(&restart),
                Arc::clone(&next),
                current.identity.clone(),
            );
            let mut listener = listener;
            std::thread::Builder::new()
                .name("jitterplay-sap".into())
                .spawn(move || {
                    while !restart.load(Ordering::Acquire) {
                        if global.load(Ordering::Acquire) {
                            restart.store(true, Ordering::Release);
                            break;
                        }
                        for e in listener.poll() {
                            if e.session.identity == identity && e.change != SapChange::New {
                                *next.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                                restart.store(true, Ordering::Release);
                            }
                        }
                    }
                    listener
                })?
        };
        let played = super::play::play_sdp(&sdp, args, quiet, &restart);
        restart.store(true, Ordering::Release);
        listener = watcher
            .join()
            .map_err(|_| anyhow::anyhow!("the SAP watcher panicked"))?;
        played?;
        let change = next.lock().unwrap_or_else(|p| p.into_inner()).take();
        match change {
            Some(e) if e.change == SapChange::Updated && e.session.stream.is_ok() => {
                tracing::info!(session = %e.session.name, "the announcement changed: following it");
                current = e.session;
            }
            Some(e) => {
                tracing::info!(session = %e.session.name, change = ?e.change, "the session ended");
                return Ok(());
            }
            None => return Ok(()),
        }
    }
}

/// `sap://My%20Session` and `sap://My Session` name the same session.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(hex)) => match u8::from_str_radix(&String::from_utf8_lossy(hex), 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                }
                Err(_) => {
                    out.push(b'%');
                    i += 1;
                }
            },
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_may_be_percent_encoded() {
        assert_eq!(percent_decode("My%20Session"), "My Session");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("a%zzb"), "a%zzb");
    }
}
