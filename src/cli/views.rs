//! The arguments of the checkpointctl views (`show`, `inspect`, `memparse`, `list`, `diff`), of
//! `scan`, and `--cache-dir`, and their dispatch to [`crate::views`], which knows nothing of clap.

use std::path::PathBuf;

use crate::source::OpenOptions;
use crate::views::inspect::Sections;
use crate::views::memparse::{Request, Search};
use crate::views::{self, Error, Format};

/// `--cache-dir`: one declaration for every subcommand that opens or manages checkpoints.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CacheDirArg {
    /// Where compressed archives are decompressed, once, and kept for the next open [default:
    /// the first usable of $XDG_CACHE_HOME/ckptfs, $HOME/.cache/ckptfs, /var/tmp/ckptfs-$UID]
    #[arg(
        long = "cache-dir",
        id = "cache_dir",
        value_name = "DIR",
        global = true
    )]
    pub dir: Option<PathBuf>,
    /// Which image of an OCI layout or image archive (oci-archive, docker-archive) holding
    /// several: a reference (`localhost/ck:1`), a repo tag or a digest
    #[arg(long = "image", id = "image_ref", value_name = "REF", global = true)]
    pub image: Option<String>,
    /// Docker's directory of the checkpointed container (`<docker root>/containers/<id>/`, with
    /// config.v2.json): its name, image and times for a `docker checkpoint create` checkpoint
    /// [default: two levels above a checkpoint in Docker's own layout]
    #[arg(long = "container-dir", value_name = "DIR", global = true)]
    pub container_dir: Option<PathBuf>,
    /// The container's rw layer as a tar (Docker's checkpoints leave it out), served as the
    /// rootfs diff
    #[arg(long = "rw-layer", value_name = "TAR", global = true)]
    pub rw_layer: Option<PathBuf>,
}

impl CacheDirArg {
    /// How the views open a checkpoint: through this cache, with a progress bar on a terminal.
    pub fn open_options(&self) -> OpenOptions {
        OpenOptions {
            cache_dir: self.dir.clone(),
            max_size: None,
            progress: true,
            metadata_only: false,
            image: self.image.clone(),
            container_dir: self.container_dir.clone(),
            rw_layer: self.rw_layer.clone(),
        }
    }
}

/// Arguments of `ckptfs show`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "\
Examples:
  ckptfs show checkpoint.tar.gz
  ckptfs show /var/lib/kubelet/checkpoints/*.tar
  ckptfs show --format jsonl /var/lib/kubelet/checkpoints/*.tar | jq -r .checkpointed")]
pub struct ShowArgs {
    /// Checkpoints: Podman / CRI-O / containerd archives (.tar, .tar.gz, .tar.zst), CRIU image
    /// directories (Docker's too), or checkpoint images (oci-archive, docker-archive, OCI layout
    /// directories and their tars, containerd's `ctr` exports)
    #[arg(required = true, value_name = "CHECKPOINT")]
    pub checkpoints: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: views::RowFormat,
    #[command(flatten)]
    pub cache: CacheDirArg,
}

/// Arguments of `ckptfs inspect`.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(after_help = "\
Examples:
  ckptfs inspect checkpoint.tar.gz
  ckptfs inspect --ps-tree-cmd --files --sockets checkpoint.tar.gz
  ckptfs inspect -p 6 --ps-tree-env checkpoint.tar.gz
  ckptfs inspect --all --format json checkpoint.tar.gz | jq '.[0].process_tree'")]
pub struct InspectArgs {
    /// Checkpoints: Podman / CRI-O / containerd archives (.tar, .tar.gz, .tar.zst), CRIU image
    /// directories (Docker's too), or checkpoint images (oci-archive, docker-archive, OCI layout
    /// directories and their tars, containerd's `ctr` exports)
    #[arg(required = true, value_name = "CHECKPOINT")]
    pub checkpoints: Vec<PathBuf>,
    /// Show the process tree
    #[arg(long)]
    pub ps_tree: bool,
    /// Show the process tree with full command lines (implies --ps-tree)
    #[arg(long)]
    pub ps_tree_cmd: bool,
    /// Show the process tree with environment variables (implies --ps-tree)
    #[arg(long)]
    pub ps_tree_env: bool,
    /// Show each process's open files (implies --ps-tree)
    #[arg(long)]
    pub files: bool,
    /// Show each process's open sockets (implies --ps-tree)
    #[arg(long)]
    pub sockets: bool,
    /// Show the container's mounts
    #[arg(long)]
    pub mounts: bool,
    /// Show CRIU's dump statistics
    #[arg(long)]
    pub stats: bool,
    /// Show pod, namespace and annotations
    #[arg(long)]
    pub metadata: bool,
    /// Show only the subtree of this process (implies --ps-tree)
    #[arg(short, long, value_name = "PID")]
    pub pid: Option<u32>,
    /// Show everything (all the options above)
    #[arg(long)]
    pub all: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    #[command(flatten)]
    pub cache: CacheDirArg,
}

impl InspectArgs {
    /// What to include, after `--all` and the implications.
    pub fn sections(&self) -> Sections {
        let all = self.all;
        let mut s = Sections {
            ps_tree: self.ps_tree,
            cmd: self.ps_tree_cmd || all,
            env: self.ps_tree_env || all,
            files: self.files || all,
            sockets: self.sockets || all,
            mounts: self.mounts || all,
            stats: self.stats || all,
            metadata: self.metadata || all,
            pid: self.pid,
        };
        s.ps_tree |= s.cmd || s.env || s.files || s.sockets || s.pid.is_some();
        s
    }
}

/// Arguments of `ckptfs memparse`.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(after_help = "\
Examples:
  ckptfs memparse checkpoint.tar.gz
  ckptfs memparse -p 1 checkpoint.tar.gz | less
  ckptfs memparse -p 1 -o pid1.hex checkpoint.tar.gz
  ckptfs memparse -p 1 -s PASSWORD -c 16 checkpoint.tar.gz
  ckptfs memparse -r 'AKIA[0-9A-Z]{16}' checkpoint.tar.gz
  ckptfs memparse --format jsonl -s PASSWORD checkpoint.tar.gz | jq -r .address")]
pub struct MemparseArgs {
    /// Checkpoints: Podman / CRI-O / containerd archives (.tar, .tar.gz, .tar.zst), CRIU image
    /// directories (Docker's too), or checkpoint images (oci-archive, docker-archive, OCI layout
    /// directories and their tars, containerd's `ctr` exports)
    /// (one with -o)
    #[arg(required = true, value_name = "CHECKPOINT")]
    pub checkpoints: Vec<PathBuf>,
    /// The process to dump or search (PID inside the container)
    #[arg(short, long, value_name = "PID")]
    pub pid: Option<u32>,
    /// Write the output to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Search the dumped memory for a string
    #[arg(short, long, value_name = "STRING", conflicts_with = "search_regex")]
    pub search: Option<String>,
    /// Search the dumped memory for a regular expression (over bytes; `.` is any byte but \n)
    #[arg(short = 'r', long, value_name = "REGEX")]
    pub search_regex: Option<String>,
    /// Bytes of context shown on each side of a match
    #[arg(short, long, value_name = "N", default_value_t = 0)]
    pub context: usize,
    /// Output format: the table, the hexdump or the search results as text, or as JSON rows
    /// (with -p and no search: the address ranges of the dumped memory, not its bytes)
    #[arg(long, value_enum, default_value_t)]
    pub format: views::RowFormat,
    #[command(flatten)]
    pub cache: CacheDirArg,
}

impl MemparseArgs {
    /// The view's request for one of the checkpoints.
    pub fn request(&self, checkpoint: &std::path::Path) -> Request {
        let search = match (&self.search, &self.search_regex) {
            (Some(s), _) => Some(Search::Literal(s.clone())),
            (None, Some(r)) => Some(Search::Regex(r.clone())),
            (None, None) => None,
        };
        Request {
            checkpoint: checkpoint.to_path_buf(),
            pid: self.pid,
            output: self.output.clone(),
            search,
            context: self.context,
            format: self.format,
        }
    }
}

/// Arguments of `ckptfs list`.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(after_help = "\
Examples:
  ckptfs list
  ckptfs list /var/lib/kubelet/checkpoints /srv/evidence
  ckptfs list --format json | jq '.[].checkpointed'")]
pub struct ListArgs {
    /// Directories to look in [default: /var/lib/kubelet/checkpoints]
    #[arg(value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: views::RowFormat,
}

/// Arguments of `ckptfs timeline`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "\
Examples:
  ckptfs timeline checkpoint.tar.gz
  ckptfs timeline --format bodyfile ck1.tar.zst ck2.tar.gz > body && mactime -b body
  ckptfs timeline --format jsonl ck1.tar.zst ck2.tar.gz > timeline.jsonl   # for Timesketch")]
pub struct TimelineArgs {
    /// Checkpoints: Podman / CRI-O / containerd archives (.tar, .tar.gz, .tar.zst), CRIU image
    /// directories (Docker's too), or checkpoint images (oci-archive, docker-archive, OCI layout
    /// directories and their tars, containerd's `ctr` exports)
    #[arg(required = true, value_name = "CHECKPOINT")]
    pub checkpoints: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: crate::render::timeline::Format,
    #[command(flatten)]
    pub cache: CacheDirArg,
}

/// Arguments of `ckptfs diff`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "\
Examples:
  ckptfs diff before.tar.gz after.tar.gz
  ckptfs diff --show-unchanged before.tar.gz after.tar.gz
  ckptfs diff --format json images/pre images/dump | jq .counts")]
pub struct DiffArgs {
    /// The earlier checkpoint
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The later checkpoint
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Show the processes, files and sockets alike in both too (B's process tree with a mark per
    /// process: + added, ~ modified, = unchanged)
    #[arg(long)]
    pub show_unchanged: bool,
    /// List every string gained and lost and every run of pages per mapping (else the first few)
    #[arg(long)]
    pub strings: bool,
    /// Accepted for checkpointctl's scripts: command lines are always compared
    #[arg(long)]
    pub ps_tree_cmd: bool,
    /// Accepted for checkpointctl's scripts: environments are always compared
    #[arg(long)]
    pub ps_tree_env: bool,
    /// Accepted for checkpointctl's scripts: open files are always compared
    #[arg(long)]
    pub files: bool,
    /// Accepted for checkpointctl's scripts: sockets are always compared
    #[arg(long)]
    pub sockets: bool,
    #[command(flatten)]
    pub cache: CacheDirArg,
}

/// Arguments of `ckptfs scan`.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(after_help = "\
Examples:
  ckptfs scan --rules rules.yar ck.tar.zst
  ckptfs scan --string PGHOLD --regex 'sk_live_[0-9a-z]+' /var/lib/kubelet/checkpoints/
  ckptfs scan --rules rules/ --ioc-file iocs.txt --format jsonl ck1.tar.zst ck2/ > findings.jsonl

IOC files: one IOC a line; `re:REGEX` is a regex, `str:TEXT` (or any other line) a literal
string; blank lines and lines starting with `#` are ignored.
Exit status: 0 no match, 1 matches, 2 error.")]
pub struct ScanArgs {
    /// Checkpoints (archives, CRIU image directories) or directories holding checkpoints
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// YARA rules: a rule file, a directory of *.yar / *.yara, or compiled rules (repeatable)
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// A literal string to look for (repeatable)
    #[arg(long = "string", value_name = "STRING")]
    pub strings: Vec<String>,
    /// A regular expression over bytes to look for (repeatable; `.` is any byte but \n)
    #[arg(long = "regex", value_name = "REGEX")]
    pub regexes: Vec<String>,
    /// A file of IOCs, one a line (repeatable; see below)
    #[arg(long = "ioc-file", value_name = "FILE")]
    pub ioc_files: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: views::scan::Format,
    /// Checkpoints scanned in parallel [default: the number of CPUs]
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Bytes of context shown on each side of a match
    #[arg(short, long, value_name = "N", default_value_t = 16)]
    pub context: usize,
    /// Also scan the files of rootfs/ (the container's changed files, deleted-but-open files,
    /// /dev/shm), reported by path
    #[arg(long)]
    pub rootfs_files: bool,
    /// Two checkpoints A B: report the findings new in B and those gone from A (matched by
    /// rule, string and address)
    #[arg(long)]
    pub diff: bool,
    #[command(flatten)]
    pub cache: CacheDirArg,
}

impl ScanArgs {
    /// The view's request.
    pub fn request(&self) -> views::scan::Request {
        views::scan::Request {
            paths: self.paths.clone(),
            rules: self.rules.clone(),
            strings: self.strings.clone(),
            regexes: self.regexes.clone(),
            ioc_files: self.ioc_files.clone(),
            format: self.format,
            jobs: self.jobs,
            context: self.context,
            rootfs_files: self.rootfs_files,
            diff: self.diff,
        }
    }
}

/// Arguments of `ckptfs triage`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "\
Examples:
  ckptfs triage checkpoint.tar.gz
  ckptfs triage --rootfs /srv/image-rootfs checkpoint.tar.gz | grep strong
  ckptfs triage --format jsonl /var/lib/kubelet/checkpoints/*.tar | jq -c 'select(.strength == \"strong\")'

Each line: PID <pid> <where> <tag>: [strong|weak] <what> (the mount's `triage` file; tags in
docs/views.md). Exit status: 0, or 2 when some checkpoint could not be read.")]
pub struct TriageArgs {
    /// Checkpoints: Podman / CRI-O / containerd archives (.tar, .tar.gz, .tar.zst), CRIU image
    /// directories (Docker's too), or checkpoint images (oci-archive, docker-archive, OCI layout
    /// directories and their tars, containerd's `ctr` exports)
    #[arg(required = true, value_name = "CHECKPOINT")]
    pub checkpoints: Vec<PathBuf>,
    /// The container image's root filesystem (e.g. from `podman image mount`): the files the
    /// checkpoint does not hold, to compare patched code with and to resolve argv[0]
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: views::triage::Format,
    #[command(flatten)]
    pub cache: CacheDirArg,
}

/// Arguments of `ckptfs report`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "\
Examples:
  ckptfs report checkpoint.tar.gz -o case.html
  ckptfs report before.tar.zst after.tar.zst -o case.html      # with what changed between them
  ckptfs report --rules rules/ --ioc-file iocs.txt ck.tar.zst -o case.html
  ckptfs report ck.tar.gz -o - | gzip > case.html.gz

One self-contained HTML page (inline CSS and SVG; it fetches nothing): the case, the processes,
the findings, the timeline and, for dumps of one container, what changed. A mount serves the
same page as MOUNT/report.html. Exit status: 0, or 2 when some checkpoint could not be read
(the page says which).")]
pub struct ReportArgs {
    /// Checkpoints: Podman / CRI-O / containerd archives (.tar, .tar.gz, .tar.zst), CRIU image
    /// directories (Docker's too), or checkpoint images (oci-archive, docker-archive, OCI layout
    /// directories and their tars, containerd's `ctr` exports)
    #[arg(required = true, value_name = "CHECKPOINT")]
    pub checkpoints: Vec<PathBuf>,
    /// Write the page to FILE (`-`: stdout)
    #[arg(short, long, value_name = "FILE", required = true)]
    pub output: PathBuf,
    /// YARA rules for the findings: a rule file, a directory of *.yar / *.yara, or compiled
    /// rules (repeatable)
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// A literal string to look for in memory (repeatable)
    #[arg(long = "string", value_name = "STRING")]
    pub strings: Vec<String>,
    /// A file of IOCs, one a line, as `ckptfs scan` reads it (repeatable)
    #[arg(long = "ioc-file", value_name = "FILE")]
    pub ioc_files: Vec<PathBuf>,
    /// The container image's root filesystem (e.g. from `podman image mount`), as `triage
    /// --rootfs` takes it: the files the checkpoint does not hold, to compare code with
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    #[command(flatten)]
    pub cache: CacheDirArg,
}

/// `ckptfs report`.
pub fn report(a: ReportArgs) -> Result<(), Error> {
    let open = a.cache.open_options();
    let command =
        views::report::shell_line(std::env::args_os().map(|s| s.to_string_lossy().into_owned()));
    let req = views::report::Request {
        checkpoints: a.checkpoints,
        output: a.output,
        rules: a.rules,
        strings: a.strings,
        ioc_files: a.ioc_files,
        rootfs: a.rootfs,
        command,
    };
    let r = views::report::run(&req, &open);
    views::print_warnings();
    r
}

/// `ckptfs triage`.
pub fn triage(a: TriageArgs) -> Result<(), Error> {
    let open = a.cache.open_options();
    views::to_stdout(|out| {
        views::triage::run(&a.checkpoints, a.rootfs.as_deref(), a.format, &open, out)
    })
}

/// `ckptfs show`.
pub fn show(a: ShowArgs) -> Result<(), Error> {
    let open = OpenOptions {
        metadata_only: true,
        ..a.cache.open_options()
    };
    views::to_stdout(|out| views::show::run(&a.checkpoints, a.format, &open, out))
}

/// `ckptfs inspect`.
pub fn inspect(a: InspectArgs) -> Result<(), Error> {
    let sections = a.sections();
    // Only the command lines and environments are read from memory.
    let open = OpenOptions {
        metadata_only: !(sections.cmd || sections.env),
        ..a.cache.open_options()
    };
    views::to_stdout(|out| views::inspect::run(&a.checkpoints, &sections, a.format, &open, out))
}

/// `ckptfs memparse`: each checkpoint in turn; one that cannot be read has its error line and
/// the others are shown.
pub fn memparse(a: MemparseArgs) -> Result<(), Error> {
    if a.output.is_some() && a.checkpoints.len() > 1 {
        return Err(Error::input(
            "usage: -o FILE takes one checkpoint (run memparse once per checkpoint)",
        ));
    }
    // A bad pattern is the command's error, said once, not once per checkpoint.
    if let Some(s) = &a.search_regex {
        crate::model::memory::search::Pattern::regex(s).map_err(Error::input)?;
    }
    let open = a.cache.open_options();
    views::to_stdout(|out| {
        views::each_input(&a.checkpoints, |p| {
            views::memparse::run(&a.request(p), &open, out)
        })
    })
}

/// `ckptfs list`.
pub fn list(a: ListArgs) -> Result<(), Error> {
    views::to_stdout(|out| views::list::run(&a.dirs, a.format, out))
}

/// `ckptfs timeline`.
pub fn timeline(a: TimelineArgs) -> Result<(), Error> {
    let open = a.cache.open_options();
    views::to_stdout(|out| views::timeline::run(&a.checkpoints, a.format, &open, out))
}

/// `ckptfs diff`.
pub fn diff(a: DiffArgs) -> Result<(), Error> {
    let open = a.cache.open_options();
    let opts = views::diff::Options {
        format: a.format,
        show_unchanged: a.show_unchanged,
        strings: a.strings,
    };
    views::to_stdout(|out| views::diff::run(&a.a, &a.b, opts, &open, out))
}

/// `ckptfs scan`: the exit code (0 no match, 1 matches, 2 some checkpoint could not be scanned).
pub fn scan(a: ScanArgs) -> Result<i32, Error> {
    use std::io::{IsTerminal, Write};
    let open = a.cache.open_options();
    let req = a.request();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let r =
        views::scan::run(&req, &open, &mut out, std::io::stderr().is_terminal()).and_then(|code| {
            out.flush()
                .map_err(|e| Error::output("cannot write the output", &e))?;
            Ok(code)
        });
    match r {
        Err(e) if e.is_quiet() => Ok(0),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};

    #[test]
    fn one_cache_dir_everywhere() {
        let dir = |args: &[&str]| -> Option<String> {
            let c = Cli::try_parse_from(args).unwrap();
            let d = match c.command {
                Command::Show(a) => a.cache.dir,
                Command::Inspect(a) => a.cache.dir,
                Command::Memparse(a) => a.cache.dir,
                Command::Diff(a) => a.cache.dir,
                Command::Mount(a) => a.cache.dir,
                Command::Cache(a) => a.cache.dir,
                Command::Triage(a) => a.cache.dir,
                Command::Report(a) => a.cache.dir,
                _ => None,
            };
            d.map(|p| p.display().to_string())
        };
        assert_eq!(
            dir(&["ckptfs", "show", "x", "--cache-dir", "/c"]).as_deref(),
            Some("/c")
        );
        assert_eq!(
            dir(&["ckptfs", "inspect", "--cache-dir=/c", "x"]).as_deref(),
            Some("/c")
        );
        assert_eq!(
            dir(&["ckptfs", "memparse", "x", "--cache-dir", "/c"]).as_deref(),
            Some("/c")
        );
        assert_eq!(
            dir(&["ckptfs", "diff", "a", "b", "--cache-dir", "/c"]).as_deref(),
            Some("/c")
        );
        assert_eq!(
            dir(&["ckptfs", "mount", "a", "/m", "--cache-dir", "/c"]).as_deref(),
            Some("/c")
        );
        assert_eq!(
            dir(&["ckptfs", "cache", "list", "--cache-dir", "/c"]).as_deref(),
            Some("/c")
        );
        assert_eq!(
            dir(&["ckptfs", "cache", "--cache-dir", "/c", "clean"]).as_deref(),
            Some("/c")
        );
        assert_eq!(
            dir(&["ckptfs", "triage", "x", "--cache-dir", "/c"]).as_deref(),
            Some("/c")
        );
        assert_eq!(dir(&["ckptfs", "show", "x"]), None);
        // One help text.
        let help = |sub: &str| {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            cmd.build();
            let c = cmd.find_subcommand(sub).unwrap();
            let a = c
                .get_arguments()
                .find(|a| a.get_id() == "cache_dir")
                .unwrap();
            a.get_help().map(|h| h.to_string())
        };
        let h = help("show");
        assert!(h.is_some());
        for sub in ["inspect", "memparse", "diff", "mount", "cache", "triage"] {
            assert_eq!(help(sub), h, "{sub}");
        }
    }

    #[test]
    fn diff_takes_checkpointctl_flags() {
        let c = Cli::try_parse_from([
            "ckptfs",
            "diff",
            "a",
            "b",
            "--ps-tree-cmd",
            "--ps-tree-env",
            "--files",
            "--sockets",
            "--show-unchanged",
            "--format=json",
        ])
        .unwrap();
        let Command::Diff(a) = c.command else {
            panic!("not diff")
        };
        assert!(a.show_unchanged && a.files && a.sockets && a.ps_tree_cmd && a.ps_tree_env);
        assert_eq!(a.format, crate::views::Format::Json);
    }

    #[test]
    fn inspect_implications() {
        let c = Cli::try_parse_from(["ckptfs", "inspect", "--files", "x"]).unwrap();
        let Command::Inspect(a) = c.command else {
            panic!("not inspect")
        };
        let s = a.sections();
        assert!(s.ps_tree && s.files && !s.sockets && !s.stats);
        let c = Cli::try_parse_from(["ckptfs", "inspect", "--all", "x"]).unwrap();
        let Command::Inspect(a) = c.command else {
            panic!("not inspect")
        };
        let s = a.sections();
        assert!(s.ps_tree && s.cmd && s.env && s.files && s.sockets && s.mounts && s.stats);
    }
}
