//! Whether A and B are checkpoints of one container, by what each records of its container.
//!
//! The rule: when both record a container id, they are one container exactly when the ids are
//! equal (a renamed container keeps its id; a new container gets a new one). When either lacks
//! an id, they are one container when both record a name and an image and both are equal; a
//! name or an image that both record and that differs makes them two containers. Otherwise (a
//! pre-dump, bare CRIU images: nothing to compare is recorded on both sides) ckptfs cannot tell:
//! `same_container` is null and nothing is warned.

use serde::Serialize;

use super::output::Side;
use crate::format::escape;
use crate::warning::{Kind, Warning};

/// What the answer rests on.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// Both record a container id.
    Id,
    /// One side (or both) records no id; names and images are compared.
    NameAndImage,
}

/// Whether A and B are one container (None: cannot tell), and by what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub same: Option<bool>,
    pub by: Option<Basis>,
}

/// Applies the rule (module documentation) to A's and B's records.
pub fn identify(a: &Side, b: &Side) -> Identity {
    if let (Some(x), Some(y)) = (&a.id, &b.id) {
        return Identity {
            same: Some(x == y),
            by: Some(Basis::Id),
        };
    }
    let both = |f: fn(&Side) -> &Option<String>| match (f(a), f(b)) {
        (Some(x), Some(y)) => Some(x == y),
        _ => None,
    };
    let (name, image) = (both(|s| &s.container_name), both(|s| &s.image));
    let same = match (name, image) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    };
    Identity {
        same,
        by: same.map(|_| Basis::NameAndImage),
    }
}

/// A recorded value as printed, or `not recorded`.
pub fn shown(v: &Option<String>) -> String {
    match v {
        Some(s) => escape(s).into_owned(),
        None => "not recorded".into(),
    }
}

/// The warning for checkpoints of two containers: what differs, on one line.
pub fn warning(a: &Side, b: &Side, by: Basis) -> Warning {
    let what = match by {
        Basis::Id => format!("container id A: {}, B: {}", shown(&a.id), shown(&b.id)),
        Basis::NameAndImage => format!(
            "name and image A: {} {}, B: {} {}",
            shown(&a.container_name),
            shown(&a.image),
            shown(&b.container_name),
            shown(&b.image)
        ),
    };
    Warning::new(
        Kind::DifferentContainers,
        format!(
            "A and B are checkpoints of different containers ({what}): their differences are \
             between two containers, not changes of one; compared anyway"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(id: Option<&str>, name: Option<&str>, image: Option<&str>) -> Side {
        Side {
            id: id.map(str::to_string),
            container_name: name.map(str::to_string),
            image: image.map(str::to_string),
            ..Side::default()
        }
    }

    fn same(a: &Side, b: &Side) -> (Option<bool>, Option<Basis>) {
        let i = identify(a, b);
        (i.same, i.by)
    }

    #[test]
    fn ids_decide_when_both_record_one() {
        let a = side(Some("aa"), Some("web"), Some("img"));
        assert_eq!(same(&a, &a.clone()), (Some(true), Some(Basis::Id)));
        // Renamed, same id: one container.
        let renamed = side(Some("aa"), Some("web2"), Some("img"));
        assert_eq!(same(&a, &renamed), (Some(true), Some(Basis::Id)));
        // Same name and image, another id: another container.
        let other = side(Some("bb"), Some("web"), Some("img"));
        assert_eq!(same(&a, &other), (Some(false), Some(Basis::Id)));
    }

    #[test]
    fn without_ids_name_and_image_decide() {
        let a = side(None, Some("web"), Some("img"));
        let b = side(Some("bb"), Some("web"), Some("img"));
        assert_eq!(same(&a, &b), (Some(true), Some(Basis::NameAndImage)));
        let c = side(None, Some("web"), Some("other"));
        assert_eq!(same(&a, &c), (Some(false), Some(Basis::NameAndImage)));
        let d = side(None, Some("db"), None);
        assert_eq!(same(&a, &d), (Some(false), Some(Basis::NameAndImage)));
    }

    #[test]
    fn nothing_comparable_is_unknown() {
        let none = side(None, None, None);
        assert_eq!(same(&none, &none), (None, None));
        let a = side(Some("aa"), Some("web"), Some("img"));
        assert_eq!(same(&a, &none), (None, None));
        // The name alone agrees: not enough to say one container.
        let b = side(None, Some("web"), None);
        assert_eq!(same(&a, &b), (None, None));
    }

    #[test]
    fn the_warning_names_both_sides_on_one_line() {
        let a = side(Some("aa"), Some("web"), Some("img"));
        let b = side(Some("b\nb"), None, None);
        let w = warning(&a, &b, Basis::Id);
        assert_eq!(w.kind, Kind::DifferentContainers);
        assert!(
            w.message.starts_with(
                "A and B are checkpoints of different containers (container id A: aa, B: b\\nb)"
            ),
            "{}",
            w.message
        );
        let w = warning(&a, &b, Basis::NameAndImage);
        assert!(
            w.message
                .contains("(name and image A: web img, B: not recorded not recorded)"),
            "{}",
            w.message
        );
    }
}
