//! `jitterplay devices`: hosts, output devices and their (deduplicated) configurations.

use std::collections::BTreeMap;

use clap::Args;
use cpal::traits::{DeviceTrait, HostTrait};

/// Arguments of `devices`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  jitterplay devices")]
pub struct DevicesArgs {}

/// Runs `devices`, printing the listing to stdout.
pub fn run(_args: DevicesArgs) -> anyhow::Result<()> {
    let default_host = cpal::default_host().id();
    let mut any = false;
    for host_id in cpal::available_hosts() {
        let Ok(host) = cpal::host_from_id(host_id) else {
            continue;
        };
        let marker = if host_id == default_host {
            " (default)"
        } else {
            ""
        };
        println!("host {host_id:?}{marker}");
        let default_device = host.default_output_device();
        let devices = match host.output_devices() {
            Ok(d) => d,
            Err(e) => {
                println!("  cannot list devices: {e}");
                continue;
            }
        };
        for device in devices {
            // Some ALSA devices fail to describe themselves; skip them rather than stop.
            let Ok(configs) = device.supported_output_configs() else {
                continue;
            };
            any = true;
            let is_default = default_device.as_ref() == Some(&device);
            let id = device.id().map(|i| i.to_string()).unwrap_or_default();
            println!(
                "  {}{}  [{id}]",
                device,
                if is_default { "  (default)" } else { "" }
            );
            for line in summarize(configs.map(|c| {
                (
                    c.sample_format(),
                    c.channels(),
                    c.min_sample_rate(),
                    c.max_sample_rate(),
                )
            })) {
                println!("    {line}");
            }
        }
    }
    if !any {
        println!("no output devices found; use --output wav:FILE or --output null");
    }
    Ok(())
}

/// Folds ranges into one line per sample format: channel counts and rate spans.
fn summarize(ranges: impl Iterator<Item = (cpal::SampleFormat, u16, u32, u32)>) -> Vec<String> {
    let mut by_format: BTreeMap<String, (Vec<u16>, u32, u32)> = BTreeMap::new();
    for (format, channels, min, max) in ranges {
        let entry = by_format
            .entry(format.to_string())
            .or_insert((Vec::new(), u32::MAX, 0));
        if !entry.0.contains(&channels) {
            entry.0.push(channels);
        }
        entry.1 = entry.1.min(min);
        entry.2 = entry.2.max(max);
    }
    by_format
        .into_iter()
        .map(|(format, (mut channels, min, max))| {
            channels.sort_unstable();
            format!(
                "{format:<4} channels {}  rates {min}..{max} Hz",
                compress(&channels)
            )
        })
        .collect()
}

/// `1,2,3,4,8` → `1-4,8`.
fn compress(values: &[u16]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let mut j = i;
        while j + 1 < values.len() && values[j + 1] == values[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", values[i], values[j])
        } else {
            values[i].to_string()
        });
        i = j + 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpal::SampleFormat;

    #[test]
    fn a_thousand_alsa_ranges_fold_into_one_line_per_format() {
        let ranges = (1..=64u16).flat_map(|ch| {
            [SampleFormat::F32, SampleFormat::I16]
                .into_iter()
                .map(move |f| (f, ch, 1, u32::MAX))
        });
        let lines = summarize(ranges);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("channels 1-64"), "{}", lines[0]);
    }

    #[test]
    fn channel_lists_compress_runs() {
        assert_eq!(compress(&[1, 2, 3, 4, 8]), "1-4,8");
        assert_eq!(compress(&[2]), "2");
    }
}
