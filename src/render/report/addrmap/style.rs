//! What the map tells apart and how it colours it: the kind of a mapping ([`Kind`]: stack,
//! heap, file, memfd, SysV shm, ...), its highest permission, what the checkpoint holds of its
//! pages, the density classes' shades and the marks' colours; and the legend at the top of the
//! SVG that names them all. The colours of each set differ in lightness, so a greyscale print
//! still tells them apart.

use std::fmt::Write as _;

use super::super::density::Class;
use super::super::html::esc;
use super::{CHAR_W, MARGIN, WIDTH};
use crate::model::process::{Vma, VmaName, vma_status};

/// What a mapping maps, as the map colours it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    SysV,
    Stack,
    Memfd,
    File,
    Shared,
    Heap,
    Anon,
    /// `[vdso]`, `[vvar]`, `[vsyscall]`, `[uprobes]`: the kernel's own.
    Kernel,
}

impl Kind {
    /// Every kind, darkest colour first: the colours differ in lightness (a greyscale print
    /// still tells them apart; see the tests).
    pub const ALL: [Kind; 8] = [
        Kind::SysV,
        Kind::Stack,
        Kind::Memfd,
        Kind::File,
        Kind::Shared,
        Kind::Heap,
        Kind::Anon,
        Kind::Kernel,
    ];

    pub fn of(v: &Vma) -> Kind {
        use crate::model::files::FileKind;
        let memfd = v.status & vma_status::MEMFD != 0
            || matches!(
                v.file.as_ref().map(|f| &f.kind),
                Some(FileKind::Memfd { .. })
            );
        match &v.name {
            _ if v.status & vma_status::SYSVIPC != 0 => Kind::SysV,
            _ if memfd => Kind::Memfd,
            VmaName::Stack => Kind::Stack,
            _ if v.status & vma_status::STACK != 0 => Kind::Stack,
            VmaName::Heap => Kind::Heap,
            VmaName::Vdso
            | VmaName::Vvar
            | VmaName::VvarVclock
            | VmaName::Vsyscall
            | VmaName::Uprobes => Kind::Kernel,
            _ if v.shared() => Kind::Shared,
            VmaName::File { .. } | VmaName::Unknown { .. } => Kind::File,
            VmaName::Anon => Kind::Anon,
        }
    }

    pub fn colour(self) -> &'static str {
        match self {
            Kind::SysV => "#4c2d16",
            Kind::Stack => "#67308f",
            Kind::Memfd => "#ba2147",
            Kind::File => "#337acc",
            Kind::Shared => "#29a39e",
            Kind::Heap => "#f59b40",
            Kind::Anon => "#acdb94",
            Kind::Kernel => "#faf198",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::SysV => "SysV shm",
            Kind::Stack => "stack",
            Kind::Memfd => "memfd",
            Kind::File => "file",
            Kind::Shared => "shared",
            Kind::Heap => "heap",
            Kind::Anon => "anon",
            Kind::Kernel => "vdso/vvar",
        }
    }
}

/// The permission lane's classes: the highest permission a mapping has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Perm {
    Read,
    Write,
    Exec,
    WriteExec,
}

impl Perm {
    pub(super) const ALL: [Perm; 4] = [Perm::Read, Perm::Write, Perm::Exec, Perm::WriteExec];

    pub(super) fn of(v: &Vma) -> Option<Perm> {
        match (v.readable(), v.writable(), v.executable()) {
            (_, true, true) => Some(Perm::WriteExec),
            (_, _, true) => Some(Perm::Exec),
            (_, true, _) => Some(Perm::Write),
            (true, _, _) => Some(Perm::Read),
            _ => None,
        }
    }
    pub(super) fn colour(self) -> &'static str {
        match self {
            Perm::Read => "#cfcfcf",
            Perm::Write => "#8a8a8a",
            Perm::Exec => "#262626",
            Perm::WriteExec => "#e41a1c",
        }
    }
    pub(super) fn label(self) -> &'static str {
        match self {
            Perm::Read => "r--",
            Perm::Write => "rw-",
            Perm::Exec => "r-x",
            Perm::WriteExec => "rwx",
        }
    }
}

/// What the checkpoint holds of a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Held {
    Dumped,
    Filled,
    Absent,
}

impl Held {
    pub(super) const ALL: [Held; 3] = [Held::Dumped, Held::Filled, Held::Absent];
    pub(super) fn colour(self) -> &'static str {
        match self {
            Held::Dumped => "#1f1f1f",
            Held::Filled => "#9a9a9a",
            Held::Absent => "#ececec",
        }
    }
    pub(super) fn label(self) -> &'static str {
        match self {
            Held::Dumped => "dumped",
            Held::Filled => "filled from file",
            Held::Absent => "not dumped",
        }
    }
}

pub(super) fn class_colour(c: Class) -> &'static str {
    match c {
        Class::Sparse => "#e3e3e3",
        Class::Text => "#b0b0b0",
        Class::Code => "#6a6a6a",
        Class::Random => "#000000",
    }
}

pub(super) const BROKEN_COLOUR: &str = "#e41a1c";
pub(super) const FINDING_COLOUR: &str = "#e41a1c";
pub(super) const CHANGED_COLOUR: &str = "#e7298a";

/// The legend, at the top of the SVG (kinds, permissions, held pages, density classes, marks),
/// and how many lines it takes.
pub(super) fn legend(hatch: &str) -> (String, u32) {
    let mut out = String::new();
    let mut items: Vec<(String, String)> = Vec::new();
    for k in Kind::ALL {
        items.push((
            format!(r#"<rect width="14" height="10" fill="{}"/>"#, k.colour()),
            k.label().to_string(),
        ));
    }
    for pm in Perm::ALL {
        items.push((
            format!(
                r#"<rect y="3" width="14" height="4" fill="{}"/>"#,
                pm.colour()
            ),
            pm.label().to_string(),
        ));
    }
    for h in Held::ALL {
        items.push((
            format!(
                r##"<rect y="3" width="14" height="4" fill="{}" stroke="#bbb" stroke-width=".5"/>"##,
                h.colour()
            ),
            h.label().to_string(),
        ));
    }
    for c in Class::ALL {
        items.push((
            format!(
                r#"<rect y="2" width="14" height="6" fill="{}"/>"#,
                class_colour(c)
            ),
            c.label().to_string(),
        ));
    }
    items.push((
        format!(r#"<rect y="2" width="14" height="6" fill="{BROKEN_COLOUR}"/>"#),
        "unreadable".to_string(),
    ));
    items.push((
        format!(
            r##"<path d="M3 1h8l-4 7z" fill="{FINDING_COLOUR}" stroke="#000" stroke-width=".5"/>"##
        ),
        "finding".to_string(),
    ));
    items.push((
        format!(r#"<rect width="14" height="10" fill="url(#{hatch})" stroke="{CHANGED_COLOUR}"/>"#),
        "changed page".to_string(),
    ));
    let (mut x, mut y) = (0u32, 0u32);
    out.push_str(r#"<g class="legend">"#);
    for (swatch, label) in items {
        let w = 20 + (label.len() as f64 * CHAR_W).ceil() as u32 + 14;
        if x + w > WIDTH {
            x = 0;
            y += 14;
        }
        let _ = write!(
            out,
            r##"<g transform="translate({},{})">{swatch}<text x="18" y="9" fill="#222">{}</text></g>"##,
            x + MARGIN,
            y + 4,
            esc(&label)
        );
        x += w;
    }
    out.push_str("</g>");
    (out, y / 14 + 1)
}
