//! Building an entry: the input decompressed, streaming, into a new partial file, bounded by a
//! size limit and checked to start with a tar header, with the input's hash begun beside it.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::entry::{decompress_error, not_tar};
use super::hash::EarlyHash;
use super::{BUF, RemoveOnDrop, remove_if_exists};
use crate::source::InputKind;
use crate::source::error::Error;

/// Reads the compressed input, counting every byte (and driving the progress bar).
pub(in crate::source) struct Tally<'a, R: Read> {
    pub(super) inner: R,
    pub(super) read: &'a std::cell::Cell<u64>,
    pub(super) bar: Option<indicatif::ProgressBar>,
}

impl<'a, R: Read> Tally<'a, R> {
    /// `inner` (a compressed input of `total_in` bytes) counted into `read` and buffered, with a
    /// progress bar when asked and stderr is a terminal (returned too, to be finished).
    pub(in crate::source) fn buffered(
        input: &Path,
        inner: R,
        total_in: u64,
        progress: bool,
        read: &'a std::cell::Cell<u64>,
    ) -> (BufReader<Tally<'a, R>>, Option<indicatif::ProgressBar>) {
        let bar = if progress {
            progress_bar(input, total_in)
        } else {
            None
        };
        let tally = Tally {
            inner,
            read,
            bar: bar.clone(),
        };
        (BufReader::with_capacity(BUF, tally), bar)
    }
}

/// The decompressor of a `kind` input (gzip, possibly multi-member, or zstd) over `src`.
pub(in crate::source) fn decoder<'r>(
    kind: InputKind,
    src: &'r mut impl io::BufRead,
) -> io::Result<Box<dyn Read + 'r>> {
    Ok(match kind {
        InputKind::TarZst => Box::new(zstd::stream::read::Decoder::with_buffer(src)?),
        _ => Box::new(flate2::bufread::MultiGzDecoder::new(src)),
    })
}

impl<R: Read> Read for Tally<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self.read.get().saturating_add(n as u64);
        self.read.set(total);
        if let Some(b) = &self.bar {
            b.set_position(total);
        }
        Ok(n)
    }
}

fn progress_bar(input: &Path, total: u64) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    let style = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    bar.set_message(format!("decompressing {name}"));
    Some(bar)
}

/// What one cache build works on.
#[derive(Clone, Copy)]
pub(super) struct BuildJob<'a> {
    pub(super) input: &'a Path,
    pub(super) file: &'a File,
    pub(super) kind: InputKind,
    /// Where the decompressed copy is written before it is renamed into place.
    pub(super) partial: &'a Path,
    /// The most bytes the decompressed copy may have, and why (for the error).
    pub(super) limit: u64,
    pub(super) why_limit: &'a str,
    /// Show a progress bar (on a terminal).
    pub(super) progress: bool,
}

/// Decompresses `file` into a new `partial` file, with an [`EarlyHash`] of the input beside it.
/// Returns the decompressed size and the early hash (still running). On any error the partial
/// file is removed.
pub(super) fn build(job: &BuildJob<'_>) -> Result<(u64, Option<EarlyHash>), Error> {
    let BuildJob { input, file, .. } = *job;
    let total_in = file
        .metadata()
        .map_err(|e| Error::io(input, "cannot stat", e))?
        .len();
    let early = EarlyHash::start(file);
    let decompressed = decompress(job, total_in);
    let (written, read_in, mut guard) = match decompressed {
        Ok(d) => d,
        Err(e) => {
            if let Some(h) = early {
                h.cancel();
            }
            return Err(e);
        }
    };
    if read_in != total_in {
        if let Some(h) = early {
            h.cancel();
        }
        return Err(Error::invalid(
            input,
            format!(
                "the file changed while being read ({read_in} bytes decompressed, {total_in} expected)"
            ),
        ));
    }
    guard.0 = None;
    Ok((written, early))
}

/// Decompresses the job's file (of `total_in` bytes) into a new partial file (not yet synced:
/// see [`super::Record`]). Returns the decompressed size, the number of input bytes read (the
/// stream and anything after it), and the guard that removes the partial file unless disarmed.
/// On any error the partial file is removed.
fn decompress(job: &BuildJob<'_>, total_in: u64) -> Result<(u64, u64, RemoveOnDrop), Error> {
    let BuildJob {
        input,
        file,
        kind,
        partial,
        limit,
        why_limit,
        progress,
    } = *job;
    // We hold the lock: a partial file left here is from a process that died.
    remove_if_exists(partial)
        .map_err(|e| Error::io(partial, "cannot remove a stale partial file", e))?;
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(partial)
        .map_err(|e| Error::io(partial, "cannot create the decompressed copy", e))?;
    let guard = RemoveOnDrop(Some(partial.to_path_buf()));
    let read = std::cell::Cell::new(0u64);
    let (mut src, bar) = Tally::buffered(input, file, total_in, progress, &read);
    let dec_err = |e| decompress_error(input, kind, read.get(), e);
    // The writes go to a second thread (as `zstd -dc` does with its asynchronous I/O): copying
    // into the page cache overlaps the decompression, and on a busy machine the pipeline gets
    // the CPU share a two-thread decompressor gets. Buffers go round: at most 4 exist.
    let (to_writer, written_chunks) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize)>(2);
    let (give_back, free) = std::sync::mpsc::channel::<Vec<u8>>();
    let (read_result, wrote) = std::thread::scope(|s| {
        let writer = s.spawn(move || -> io::Result<()> {
            for (b, n) in written_chunks {
                out.write_all(&b[..n])?;
                let _ = give_back.send(b);
            }
            Ok(())
        });
        let r = (|| -> Result<u64, Error> {
            let mut dec = decoder(kind, &mut src).map_err(dec_err)?;
            let mut written: u64 = 0;
            let mut head: Vec<u8> = Vec::with_capacity(512);
            loop {
                let mut buf = free.try_recv().unwrap_or_else(|_| vec![0u8; BUF]);
                let n = match dec.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(dec_err(e)),
                };
                let next = written.checked_add(n as u64).filter(|&w| w <= limit);
                let Some(next) = next else {
                    return Err(Error::TooLarge {
                        path: input.to_path_buf(),
                        limit,
                        why: why_limit.to_string(),
                    });
                };
                if head.len() < 512 {
                    let take = (512 - head.len()).min(n);
                    head.extend_from_slice(&buf[..take]);
                    if head.len() == 512 && !crate::source::tar::looks_like_tar(&head) {
                        return Err(not_tar(input, kind));
                    }
                }
                if to_writer.send((buf, n)).is_err() {
                    break; // the writer failed: its error is reported
                }
                written = next;
            }
            if head.len() < 512 {
                return Err(not_tar(input, kind));
            }
            Ok(written)
        })();
        drop(to_writer);
        let wrote = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the writing thread panicked")));
        (r, wrote)
    });
    // A reader's own error first (a writer that failed only stops the reader, which then
    // reports success).
    let written = read_result?;
    wrote.map_err(|e| Error::io(partial, "cannot write the decompressed copy", e))?;
    // Read whatever follows the compressed stream too (the hash covers the whole file; the
    // count tells whether the file changed).
    io::copy(&mut src, &mut io::sink()).map_err(|e| Error::io(input, "cannot read", e))?;
    drop(src);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok((written, read.get(), guard))
}
