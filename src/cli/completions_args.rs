//! The arguments of `completions` and `man`, apart from the code that reads the whole command
//! line (which needs every command's arguments, these included).

use clap::Args;
use clap_complete::Shell;

/// Arguments of `completions`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  jitterplay completions bash > ~/.local/share/bash-completion/completions/jitterplay\n  jitterplay completions zsh > ~/.zfunc/_jitterplay\n  jitterplay completions fish > ~/.config/fish/completions/jitterplay.fish"
)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Arguments of `man`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  jitterplay man | man -l -\n  jitterplay man play | man -l -\n  jitterplay man --out-dir /usr/local/share/man/man1"
)]
pub struct ManArgs {
    /// The command whose page to print (default: jitterplay's own page).
    pub command: Option<String>,
    /// Write every page (jitterplay.1, jitterplay-play.1, …) into this directory instead.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out_dir: Option<std::path::PathBuf>,
}
