//! The `--output` option: which sink plays the audio.

use std::path::PathBuf;
use std::str::FromStr;

/// Where audio goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputSpec {
    /// The default device of the default host.
    Default,
    /// A named output device (as `jitterplay devices` lists it).
    Device(String),
    /// A WAV file written at the device's pace by a timer thread.
    Wav(PathBuf),
    /// Discard the audio, paced like a device.
    Null,
}

/// An `--output` value that is none of the known forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid output '{0}': expected default, device:NAME, wav:PATH or null")]
pub struct OutputSpecError(String);

impl FromStr for OutputSpec {
    type Err = OutputSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || OutputSpecError(s.to_owned());
        match s.split_once(':') {
            None if s == "default" => Ok(OutputSpec::Default),
            None if s == "null" => Ok(OutputSpec::Null),
            Some(("device", name)) if !name.is_empty() => Ok(OutputSpec::Device(name.to_owned())),
            Some(("wav", path)) if !path.is_empty() => Ok(OutputSpec::Wav(PathBuf::from(path))),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for OutputSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputSpec::Default => write!(f, "default"),
            OutputSpec::Device(name) => write!(f, "device:{name}"),
            OutputSpec::Wav(path) => write!(f, "wav:{}", path.display()),
            OutputSpec::Null => write!(f, "null"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!("default".parse(), Ok(OutputSpec::Default));
        assert_eq!("null".parse(), Ok(OutputSpec::Null));
        assert_eq!(
            "device:hw:0,0".parse(),
            Ok(OutputSpec::Device("hw:0,0".into()))
        );
        assert_eq!("wav:out.wav".parse(), Ok(OutputSpec::Wav("out.wav".into())));
    }

    #[test]
    fn rejects_the_rest_with_a_message_naming_the_forms() {
        for bad in ["", "wav:", "device:", "speakers", "file:x.wav"] {
            let err = bad.parse::<OutputSpec>().unwrap_err();
            assert!(err.to_string().contains("wav:PATH"), "{bad}: {err}");
        }
    }
}
