//! Offline playback: decoder thread (a file, or a capture replayed in virtual time) → channel
//! map → resample → ring → sink.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use ringbuf::traits::Observer;

pub use super::error::PlayError;
use super::source::AudioSource;
use crate::audio::channels::ChannelMapper;
use crate::audio::resample::StreamResampler;
use crate::codec::file::FileDecoder;
use crate::output::recorder::Recorder;
use crate::output::{OutputSpec, OutputStats, Request, RingCallback, Sink};
use crate::playback::record_tap::RecordSnapshot;
use crate::playback::ring::{audio_ring, push_all, wait_drained, RingProducer};

/// How often the main thread refreshes progress.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Options for playing a file.
#[derive(Debug, Clone)]
pub struct FilePlayOptions {
    /// Where the audio goes.
    pub output: OutputSpec,
    /// Open the device at this rate instead of negotiating.
    pub device_rate: Option<u32>,
    /// Ask the device for this callback size.
    pub buffer_frames: Option<u32>,
    /// Run `wav:`/`null` sinks unpaced.
    pub fast: bool,
    /// Audio held in the ring between decoder thread and callback.
    pub ring: Duration,
    /// Set (by Ctrl-C) to stop playback at once, without draining.
    pub interrupt: Option<&'static AtomicBool>,
    /// Also record what is played to this WAV file (`--record`).
    pub record: Option<std::path::PathBuf>,
    /// `--web`: the dashboard's hub, which gets a tap of what is played.
    pub web: Option<Arc<crate::web::WebHub>>,
}

impl Default for FilePlayOptions {
    fn default() -> Self {
        FilePlayOptions {
            output: OutputSpec::Default,
            device_rate: None,
            buffer_frames: None,
            fast: false,
            ring: Duration::from_millis(200),
            interrupt: None,
            record: None,
            web: None,
        }
    }
}

/// A progress sample for the status line.
#[derive(Debug, Clone, Copy)]
pub struct PlayProgress {
    /// Audio played so far.
    pub position: Duration,
    /// The file's length, when known.
    pub duration: Option<Duration>,
    /// Ring fill, 0..=1.
    pub ring_fill: f32,
    /// Underruns so far.
    pub underruns: u64,
}

/// What a finished playback did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FilePlayReport {
    /// Frames delivered to the sink, at the sink's rate.
    pub frames_played: u64,
    /// Corrupt packets skipped.
    pub skipped_packets: u64,
    /// Frames of audio lost to those packets, where the container says.
    pub missing_frames: u64,
    /// Output underruns.
    pub underruns: u64,
    /// The sink's rate.
    pub output_rate: u32,
    /// The sink's channels.
    pub output_channels: u16,
    /// The recorder's counters (with `--record`).
    pub record: Option<RecordSnapshot>,
}

/// Plays `path` to the end, draining the tail, reporting progress every 100 ms.
pub fn play_file(
    path: &Path,
    options: &FilePlayOptions,
    progress: &mut dyn FnMut(PlayProgress),
) -> Result<FilePlayReport, PlayError> {
    let decoder = FileDecoder::open(path)?;
    tracing::info!("playing {}", path.display());
    play_source(Box::new(decoder), options, progress)
}

/// Plays `decoder` to the end through the offline pipeline, draining the tail.
pub fn play_source(
    decoder: Box<dyn AudioSource>,
    options: &FilePlayOptions,
    progress: &mut dyn FnMut(PlayProgress),
) -> Result<FilePlayReport, PlayError> {
    let input = decoder.format();
    let duration = decoder.duration();
    let request = Request {
        rate: input.rate,
        channels: u16::try_from(input.channels).unwrap_or(u16::MAX),
        device_rate: options.device_rate,
        buffer_frames: options.buffer_frames,
    };
    let mut sink = Sink::open(&options.output, &request, options.fast)?;
    let out = sink.format();
    tracing::info!(?input, ?out, "output opened");
    let mapper = ChannelMapper::new(input.channels, usize::from(out.channels));
    let resampler = if out.rate != input.rate {
        Some(StreamResampler::new(
            input.rate,
            out.rate,
            usize::from(out.channels),
        )?)
    } else {
        None
    };
    // The fast path needs more room: the sink only waits for whole periods, and the two
    // threads hand over half a ring at a time, so a longer ring means fewer wake-ups (4 s of
    // 48 kHz stereo is 1.5 MB).
    let ring_time = if options.fast {
        options.ring.max(Duration::from_secs(4))
    } else {
        options.ring
    };
    let (producer, consumer) = audio_ring(ring_time, out.rate, usize::from(out.channels));
    let stats = Arc::new(OutputStats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (primed_tx, primed_rx) = mpsc::sync_channel(1);
    let pause = ring_time / 8;
    let feeder = DecoderThread {
        decoder,
        mapper,
        resampler,
        producer,
        stats: Arc::clone(&stats),
        stop: Arc::clone(&stop),
        pause,
    };
    // The decoder thread says when it is done, so an unpaced run ends at once rather than at
    // the next progress report.
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let thread: JoinHandle<Result<DecoderDone, PlayError>> = std::thread::Builder::new()
        .name("jitterplay-decoder".into())
        .spawn(move || {
            let result = feeder.run(primed_tx);
            let _ = done_tx.send(());
            result
        })
        .map_err(|e| PlayError::Thread(e.to_string()))?;
    // Start the sink only once the ring holds audio, so playback does not open with an underrun.
    let _ = primed_rx.recv();
    let mut callback = RingCallback::new(consumer, Arc::clone(&stats));
    let recorder = Recorder::attach(
        options.record.as_deref(),
        &mut callback,
        out.rate,
        out.channels,
    )?;
    if let Some(hub) = &options.web {
        callback.set_listen_tap(hub.attach_audio(out.rate, out.channels));
    }
    if let Err(e) = sink.start(callback, Arc::clone(&stats)) {
        stop.store(true, Ordering::Release);
        let _ = thread.join();
        return Err(e.into());
    }
    let samples_per_sec = f64::from(out.rate) * f64::from(out.channels);
    let capacity = (ring_time.as_secs_f64() * samples_per_sec).max(1.0);
    let mut report = |ring_len: usize| {
        progress(PlayProgress {
            position: Duration::from_secs_f64(stats.samples_played() as f64 / samples_per_sec),
            duration,
            ring_fill: (ring_len as f64 / capacity).min(1.0) as f32,
            underruns: stats.underruns(),
        })
    };
    let interrupted = || options.interrupt.is_some_and(|i| i.load(Ordering::Acquire));
    while let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(PROGRESS_INTERVAL) {
        if interrupted() {
            stop.store(true, Ordering::Release);
        }
        report(stats.ring_samples.load(Ordering::Relaxed) as usize);
    }
    let DecoderDone {
        producer,
        skipped_packets,
        missing_frames,
    } = thread
        .join()
        .map_err(|_| PlayError::Thread("panicked".into()))??;
    wait_drained(&producer, PROGRESS_INTERVAL / 4, &interrupted);
    sink.finish()?;
    report(0);
    let record = match recorder {
        Some(recorder) => {
            let stats = Arc::clone(recorder.stats());
            recorder.finish()?;
            Some(stats.snapshot())
        }
        None => None,
    };
    Ok(FilePlayReport {
        record,
        frames_played: stats.samples_played() / u64::from(out.channels),
        skipped_packets,
        missing_frames,
        underruns: stats.underruns(),
        output_rate: out.rate,
        output_channels: out.channels,
    })
}

/// What the decoder thread hands back: the ring (to wait for it to drain) and its counts.
struct DecoderDone {
    producer: RingProducer,
    skipped_packets: u64,
    missing_frames: u64,
}

/// The decoder thread's state: decode, convert, push.
struct DecoderThread {
    decoder: Box<dyn AudioSource>,
    mapper: ChannelMapper,
    resampler: Option<StreamResampler>,
    producer: RingProducer,
    stats: Arc<OutputStats>,
    stop: Arc<AtomicBool>,
    pause: Duration,
}

impl DecoderThread {
    fn run(mut self, primed: mpsc::SyncSender<()>) -> Result<DecoderDone, PlayError> {
        self.stats.register_producer();
        let result = self.pump(&primed);
        // Whatever happened, the sink must not wait for more.
        self.stats.mark_finished();
        self.stats.wake_consumer();
        let _ = primed.try_send(());
        result.map(|()| DecoderDone {
            skipped_packets: self.decoder.skipped_packets(),
            missing_frames: self.decoder.missing_frames(),
            producer: self.producer,
        })
    }

    fn pump(&mut self, primed: &mpsc::SyncSender<()>) -> Result<(), PlayError> {
        let mut chunk = Vec::new();
        let mut mapped = Vec::new();
        let mut resampled = Vec::new();
        let stop = Arc::clone(&self.stop);
        let stopped = move || stop.load(Ordering::Acquire);
        // A full ring must wake an unpaced sink that waits for half of it.
        let stats = Arc::clone(&self.stats);
        let full = move || stats.wake_consumer();
        let mut is_primed = false;
        while self.decoder.next_chunk(&mut chunk)? {
            let samples: &[f32] = if self.mapper.is_identity() {
                &chunk
            } else {
                mapped.clear();
                self.mapper.map_into(&chunk, &mut mapped);
                &mapped
            };
            let samples = match self.resampler.as_mut() {
                Some(r) => {
                    resampled.clear();
                    r.process(samples, &mut resampled)?;
                    &resampled[..]
                }
                None => samples,
            };
            if !is_primed && self.producer.vacant_len() < samples.len() {
                is_primed = true;
                let _ = primed.try_send(());
            }
            if !push_all(&mut self.producer, samples, self.pause, &stopped, &full) {
                return Ok(());
            }
            self.stats.wake_consumer_at(self.producer.occupied_len());
            self.stats
                .ring_samples
                .store(self.producer.occupied_len() as u64, Ordering::Relaxed);
        }
        if let Some(r) = self.resampler.as_mut() {
            resampled.clear();
            r.finish(&mut resampled)?;
            push_all(&mut self.producer, &resampled, self.pause, &stopped, &full);
        }
        Ok(())
    }
}
