//! `jitterplay completions SHELL` and `jitterplay man`: shell completion scripts and the man
//! page, generated from the same clap definitions as the parser, so they never drift from it.

use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;

use super::args::Cli;
pub use super::completions_args::{CompletionsArgs, ManArgs};

/// Writes the completion script for `args.shell` to stdout.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "jitterplay", &mut out);
    out.flush()?;
    Ok(())
}

/// Writes a man page (roff) to stdout, or every page into `--out-dir`.
pub fn man(args: ManArgs) -> anyhow::Result<()> {
    let pages = pages();
    if let Some(dir) = args.out_dir {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, page) in &pages {
            let path = dir.join(format!("{name}.1"));
            let mut file = std::fs::File::create(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            page.render(&mut file)?;
        }
        return Ok(());
    }
    let wanted = match &args.command {
        Some(c) => format!("jitterplay-{c}"),
        None => "jitterplay".into(),
    };
    let Some((_, page)) = pages.iter().find(|(name, _)| *name == wanted) else {
        let names: Vec<_> = pages
            .iter()
            .skip(1)
            .map(|(n, _)| &n["jitterplay-".len()..])
            .collect();
        anyhow::bail!(
            "no command {:?}: pages exist for {}",
            args.command.unwrap_or_default(),
            names.join(", ")
        );
    };
    let mut out = std::io::stdout().lock();
    match page.render(&mut out).and_then(|()| out.flush()) {
        // `jitterplay man | head` closes the pipe early: not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// jitterplay's page, then one per command (`jitterplay-play`, …), as git names its pages.
fn pages() -> Vec<(String, clap_mangen::Man)> {
    let cmd = Cli::command();
    let version = cmd.get_version().unwrap_or_default().to_owned();
    let mut pages = vec![("jitterplay".to_owned(), clap_mangen::Man::new(cmd.clone()))];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("jitterplay-{}", sub.get_name());
        let page = sub
            .clone()
            .name(name.clone())
            .display_name(name.clone())
            .bin_name(format!("jitterplay {}", sub.get_name()))
            .version(version.clone());
        pages.push((name, clap_mangen::Man::new(page)));
    }
    pages
}
