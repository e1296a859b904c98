//! The one writer thread behind `--record` and `--save-packets`: it drains a bounded queue that a
//! real-time thread fills without waiting, writes what it takes, flushes by size and age, and on
//! `finish` writes everything still queued before it closes the file.
//!
//! The producer side never blocks: a full queue drops and counts (the queue's owner does).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Flush once this many bytes are written and not flushed.
pub const FLUSH_BYTES: usize = 64 << 10;
/// ...or once the oldest unflushed data is this old (a reader tailing the file sees it soon).
const FLUSH_AGE: Duration = Duration::from_millis(500);
/// Sleep this long when the queue was empty.
const IDLE: Duration = Duration::from_millis(20);

/// The writer's side of a bounded queue and its file.
pub trait QueueWriter {
    /// The error of writing (tied to its file by the owner).
    type Error: Send + 'static;
    /// Writes what is queued now; returns the bytes written (0 when the queue was empty).
    fn drain(&mut self) -> Result<usize, Self::Error>;
    /// Whether nothing is queued.
    fn is_empty(&self) -> bool;
    /// Makes what was written reach the file (`last`: the end of the stream); `age` is how
    /// long the oldest unflushed data waited.
    fn flush(&mut self, last: bool, age: Duration) -> Result<(), Self::Error>;
}

/// A running writer thread.
#[derive(Debug)]
pub struct WriterThread<E> {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), E>>>,
}

/// Why a writer thread could not finish its file.
#[derive(Debug)]
pub enum Finished<E> {
    /// Writing failed.
    Failed(E),
    /// The thread panicked.
    Panicked,
}

impl<E: Send + 'static> WriterThread<E> {
    /// Starts thread `name`: `open` makes the writer on the thread (opening a FIFO blocks until
    /// a reader comes), then it drains until [`Self::finish`].
    pub fn spawn<W, F>(name: &str, open: F) -> std::io::Result<Self>
    where
        W: QueueWriter<Error = E>,
        F: FnOnce() -> Result<W, E> + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || drain_until_stopped(open()?, &stop))?
        };
        Ok(WriterThread {
            stop,
            thread: Some(thread),
        })
    }

    /// Writes what is still queued and closes the file: call once the producer has stopped.
    pub fn finish(mut self) -> Result<(), Finished<E>> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take() {
            Some(t) => match t.join() {
                Ok(done) => done.map_err(Finished::Failed),
                Err(_) => Err(Finished::Panicked),
            },
            None => Ok(()),
        }
    }
}

impl<E> Drop for WriterThread<E> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

fn drain_until_stopped<W: QueueWriter>(mut w: W, stop: &AtomicBool) -> Result<(), W::Error> {
    let mut unflushed = 0usize;
    let mut oldest: Option<Instant> = None;
    loop {
        // Read the flag first: whatever was queued before it was set is then visible.
        let stopping = stop.load(Ordering::Acquire);
        let wrote = w.drain()?;
        let now = Instant::now();
        if wrote > 0 {
            oldest.get_or_insert(now);
            unflushed += wrote;
        }
        let due = oldest.is_some_and(|t| now.duration_since(t) >= FLUSH_AGE);
        if unflushed > 0 && (unflushed >= FLUSH_BYTES || due || stopping) {
            w.flush(false, oldest.take().map_or(Duration::ZERO, |t| t.elapsed()))?;
            unflushed = 0;
        }
        if stopping && w.is_empty() {
            return w.flush(true, Duration::ZERO);
        }
        if wrote == 0 {
            std::thread::sleep(IDLE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A queue of byte counts, "written" into a shared log.
    struct Counting {
        queue: mpsc::Receiver<usize>,
        log: Arc<std::sync::Mutex<Vec<String>>>,
    }

    impl QueueWriter for Counting {
        type Error = String;
        fn drain(&mut self) -> Result<usize, String> {
            let mut n = 0;
            while let Ok(b) = self.queue.try_recv() {
                n += b;
            }
            if n > 0 {
                self.log
                    .lock()
                    .map_err(|e| e.to_string())?
                    .push(format!("w{n}"));
            }
            Ok(n)
        }
        fn is_empty(&self) -> bool {
            true
        }
        fn flush(&mut self, last: bool, _age: Duration) -> Result<(), String> {
            let entry = if last { "end" } else { "flush" };
            self.log
                .lock()
                .map_err(|e| e.to_string())?
                .push(entry.into());
            Ok(())
        }
    }

    #[test]
    fn finish_writes_everything_queued_then_flushes_and_ends() {
        let (tx, rx) = mpsc::channel();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = {
            let log = Arc::clone(&log);
            WriterThread::spawn("test-writer", move || {
                Ok::<_, String>(Counting { queue: rx, log })
            })
            .expect("spawn")
        };
        for _ in 0..10 {
            tx.send(100).expect("send");
        }
        writer.finish().map_err(|_| "failed").expect("finish");
        let log = log.lock().expect("log").clone();
        let written: usize = log
            .iter()
            .filter_map(|e| e.strip_prefix('w')?.parse::<usize>().ok())
            .sum();
        assert_eq!(written, 1000, "{log:?}");
        assert_eq!(log.last().map(String::as_str), Some("end"), "{log:?}");
        assert_eq!(log.iter().filter(|e| *e == "end").count(), 1, "{log:?}");
    }

    #[test]
    fn an_open_error_is_the_finish_error() {
        let writer = WriterThread::spawn("test-writer", || Err::<Counting, _>("no file".into()))
            .expect("spawn");
        assert!(matches!(writer.finish(), Err(Finished::Failed(e)) if e == "no file"));
    }
}
