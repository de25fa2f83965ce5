//! CRIU pre-dumps (`criu pre-dump`: `pagemap-<pid>.img` and `pages-*.img`, no `pstree.img`, no
//! core / mm / files images): per-PID memory and nothing else, PARENT pages resolved through the
//! `parent` chain.

use std::collections::BTreeMap;

use super::memory::Memory;
use super::{Checkpoint, Error};
use crate::source::{ImageDir, Source};
use crate::warning::Warnings;

/// A CRIU pre-dump: per-PID memory, nothing else.
#[derive(Debug)]
pub struct PreDump {
    pub source: Source,
    /// The memory of each `pagemap-<pid>.img`, by PID (PARENT pages resolved through the chain).
    pub memory: BTreeMap<u32, Memory>,
    pub warnings: Warnings,
}

/// A checkpoint that may be a pre-dump (`ckptfs diff` compares both kinds).
#[derive(Debug)]
pub enum Operand {
    Full(Box<Checkpoint>),
    Pre(Box<PreDump>),
}

/// The PID of a `pagemap-<pid>.img` name (not `pagemap-shmem-*`).
pub fn pagemap_pid(name: &str) -> Option<u32> {
    name.strip_prefix("pagemap-")?
        .strip_suffix(".img")?
        .parse()
        .ok()
}

/// A pre-dump: no `pstree.img`, but `pagemap-<pid>.img` files.
pub fn is_pre_dump(images: &ImageDir) -> bool {
    images.get("pstree.img").is_none() && images.files.keys().any(|n| pagemap_pid(n).is_some())
}

/// Builds the per-PID page indexes of a pre-dump.
pub fn load_pre_dump(source: Source) -> Result<PreDump, Error> {
    let mut warnings = Warnings::new();
    let mut memory = BTreeMap::new();
    let names: Vec<(u32, String)> = source
        .images
        .files
        .keys()
        .filter_map(|n| pagemap_pid(n).map(|pid| (pid, n.clone())))
        .collect();
    for (pid, name) in names {
        if let Some(m) = super::pages::load(&source.images, &name, &mut warnings)? {
            memory.insert(pid, m);
        }
    }
    Ok(PreDump {
        source,
        memory,
        warnings,
    })
}

impl Operand {
    /// Models `source`: as a pre-dump when it is one ([`is_pre_dump`]), else as a checkpoint.
    pub fn load(source: Source) -> Result<Operand, Error> {
        Ok(if is_pre_dump(&source.images) {
            Operand::Pre(Box::new(load_pre_dump(source)?))
        } else {
            Operand::Full(Box::new(super::load::load(source)?))
        })
    }

    /// The warnings of the load and of the source, in that order.
    pub fn warnings(&self) -> impl Iterator<Item = &crate::warning::Warning> {
        let (w, sw) = match self {
            Operand::Full(ck) => (&ck.warnings, &ck.source.warnings),
            Operand::Pre(p) => (&p.warnings, &p.source.warnings),
        };
        w.iter().chain(sw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagemap_names() {
        assert_eq!(pagemap_pid("pagemap-42.img"), Some(42));
        assert_eq!(pagemap_pid("pagemap-shmem-7.img"), None);
        assert_eq!(pagemap_pid("pages-1.img"), None);
    }
}
