//! `ckptfs completions SHELL` and `ckptfs man [SUBCOMMAND]`: shell completion scripts and man
//! pages generated from the clap definition of the command line (so they never drift from it).
//!
//! The caller passes the top-level `clap::Command` (`Cli::command()`).

use std::io::Write;

use crate::views::{Error, to_stdout, write_out};

/// Arguments of `ckptfs completions`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "\
Examples:
  ckptfs completions bash > /etc/bash_completion.d/ckptfs
  ckptfs completions zsh > \"${fpath[1]}/_ckptfs\"
  ckptfs completions fish > ~/.config/fish/completions/ckptfs.fish")]
pub struct CompletionsArgs {
    /// The shell to generate completions for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Arguments of `ckptfs man`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "\
Examples:
  ckptfs man | man -l -
  ckptfs man memparse > /usr/local/share/man/man1/ckptfs-memparse.1")]
pub struct ManArgs {
    /// A subcommand whose page to print (default: the page of ckptfs itself)
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Option<String>,
}

/// `ckptfs completions`, to stdout.
pub fn completions_main(args: CompletionsArgs, cmd: clap::Command) -> Result<(), Error> {
    to_stdout(|out| completions(&args, cmd, out))
}

/// Writes the completion script for `args.shell`.
pub fn completions(
    args: &CompletionsArgs,
    mut cmd: clap::Command,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let name = cmd.get_name().to_string();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, name, &mut buf);
    write_out(out, &buf)
}

/// `ckptfs man`, to stdout.
pub fn man_main(args: ManArgs, cmd: clap::Command) -> Result<(), Error> {
    to_stdout(|out| man(&args, cmd, out))
}

/// Writes the man page (roff) of ckptfs or of one of its subcommands.
pub fn man(args: &ManArgs, cmd: clap::Command, out: &mut dyn Write) -> Result<(), Error> {
    let mut cmd = cmd;
    cmd.build();
    let page = match &args.subcommand {
        None => cmd,
        Some(s) => {
            let name = cmd.get_name().to_string();
            let sub = cmd.find_subcommand(s).cloned().ok_or_else(|| {
                let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
                Error::input(format!(
                    "no subcommand {s:?} (subcommands: {})",
                    names.join(", ")
                ))
            })?;
            // A one-shot command: leaking the name is the simplest way to give clap a 'static str.
            let full: &'static str =
                Box::leak(format!("{name}-{}", sub.get_name()).into_boxed_str());
            sub.name(full).bin_name(full)
        }
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut buf)
        .map_err(|e| Error::output("cannot render the man page", &e))?;
    write_out(out, &buf)
}
