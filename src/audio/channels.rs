//! Channel mapping between a stream's layout and the output's: mono↔stereo and downmix of more.

/// How one output channel is built from the input channels: (input channel, gain) pairs.
type Mix = Vec<(usize, f32)>;

/// Maps interleaved frames of `inputs` channels to `outputs` channels.
///
/// Mono is copied to every output channel; more inputs than outputs are downmixed with
/// ITU-R BS.775 gains for the common 5.1/7.1 orders (L R C LFE Ls Rs [Lb Rb]) and an equal-gain
/// fold otherwise; fewer inputs than outputs leave the extra outputs silent, as a receiver would.
#[derive(Debug, Clone)]
pub struct ChannelMapper {
    inputs: usize,
    outputs: usize,
    mixes: Vec<Mix>,
}

impl ChannelMapper {
    /// Builds the mapping from `inputs` to `outputs` channels (both at least 1).
    pub fn new(inputs: usize, outputs: usize) -> Self {
        let inputs = inputs.max(1);
        let outputs = outputs.max(1);
        ChannelMapper {
            inputs,
            outputs,
            mixes: (0..outputs).map(|o| mix_for(o, inputs, outputs)).collect(),
        }
    }

    /// True when input and output layouts are the same, so samples pass through untouched.
    pub fn is_identity(&self) -> bool {
        self.inputs == self.outputs
    }

    /// Appends the mapped frames of `input` (interleaved, whole frames) to `out`.
    pub fn map_into(&self, input: &[f32], out: &mut Vec<f32>) {
        if self.is_identity() {
            out.extend_from_slice(input);
            return;
        }
        for frame in input.chunks_exact(self.inputs) {
            for mix in &self.mixes {
                let sample: f32 = mix.iter().map(|&(i, g)| frame[i] * g).sum();
                out.push(sample.clamp(-1.0, 1.0));
            }
        }
    }
}

fn mix_for(output: usize, inputs: usize, outputs: usize) -> Mix {
    if inputs == outputs {
        return vec![(output, 1.0)];
    }
    if inputs == 1 {
        return vec![(0, 1.0)];
    }
    if inputs < outputs {
        return if output < inputs {
            vec![(output, 1.0)]
        } else {
            Vec::new()
        };
    }
    if outputs == 1 {
        let g = 1.0 / inputs as f32;
        return (0..inputs).map(|i| (i, g)).collect();
    }
    if outputs == 2 && (inputs == 6 || inputs == 8) {
        return surround_to_stereo(output, inputs);
    }
    // Fold input channel i onto output i % outputs, scaled so a full-scale signal on every
    // input cannot clip the fold.
    let per_output = inputs.div_ceil(outputs) as f32;
    (0..inputs)
        .filter(|i| i % outputs == output)
        .map(|i| (i, 1.0 / per_output))
        .collect()
}

/// ITU-R BS.775 downmix of 5.1 / 7.1 (LFE dropped), normalised so the sum of gains is 1.
fn surround_to_stereo(output: usize, inputs: usize) -> Mix {
    const C: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let (front, centre, surround, back) = (output, 2, 4 + output, 6 + output);
    let mut mix = vec![(front, 1.0), (centre, C), (surround, C)];
    if inputs == 8 {
        mix.push((back, C));
    }
    let total: f32 = mix.iter().map(|&(_, g)| g).sum();
    mix.into_iter().map(|(i, g)| (i, g / total)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(inputs: usize, outputs: usize, input: &[f32]) -> Vec<f32> {
        let mut out = Vec::new();
        ChannelMapper::new(inputs, outputs).map_into(input, &mut out);
        out
    }

    #[test]
    fn identity_passes_samples_through_untouched() {
        let input = [0.1, -0.2, 0.3, -0.4];
        assert_eq!(map(2, 2, &input), input);
    }

    #[test]
    fn mono_is_copied_to_both_sides() {
        assert_eq!(map(1, 2, &[0.5, -0.25]), vec![0.5, 0.5, -0.25, -0.25]);
    }

    #[test]
    fn stereo_to_mono_averages() {
        assert_eq!(map(2, 1, &[0.5, 0.25, -1.0, 1.0]), vec![0.375, 0.0]);
    }

    #[test]
    fn stereo_to_quad_leaves_rear_silent() {
        assert_eq!(map(2, 4, &[0.5, 0.25]), vec![0.5, 0.25, 0.0, 0.0]);
    }

    #[test]
    fn surround_downmix_keeps_sides_apart_and_drops_lfe() {
        // L R C LFE Ls Rs: only the left front is hot.
        let left_only = map(6, 2, &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert!(left_only[0] > 0.4 && left_only[1] == 0.0);
        let lfe_only = map(6, 2, &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(lfe_only, vec![0.0, 0.0]);
        let centre = map(6, 2, &[0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
        assert_eq!(centre[0], centre[1]);
    }

    #[test]
    fn full_scale_downmix_never_clips() {
        for inputs in 3..=8 {
            let out = map(inputs, 2, &vec![1.0; inputs]);
            assert!(
                out.iter().all(|s| s.abs() <= 1.0),
                "{inputs} channels: {out:?}"
            );
        }
    }
}
