//! The container's user namespace (`userns-<id>.img`, written by CRIU when the tree runs in a
//! user namespace of its own): its uid and gid maps as `/proc/PID/uid_map` showed them to CRIU,
//! and the rule that turns the host's ids (what the layer tars record) into the container's
//! (what CRIU records for the tasks).

use crate::image::{self, magic, pb};
use crate::source::ImageDir;
use crate::warning::{Kind, Warnings};

/// One line of `uid_map` / `gid_map`: ids `first..first + count` inside are
/// `lower_first..lower_first + count` outside.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdExtent {
    pub first: u32,
    pub lower_first: u32,
    pub count: u32,
}

/// The maps of the container's user namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserNs {
    pub uid_map: Vec<IdExtent>,
    pub gid_map: Vec<IdExtent>,
}

/// What the kernel shows for an id the namespace does not map (`overflowuid`, `overflowgid`).
pub const OVERFLOW_ID: u64 = 65534;

impl UserNs {
    /// The container's uid for the host's `host` (the overflow id when unmapped).
    pub fn uid_inside(&self, host: u64) -> u64 {
        inside(&self.uid_map, host)
    }

    /// The container's gid for the host's `host` (the overflow id when unmapped).
    pub fn gid_inside(&self, host: u64) -> u64 {
        inside(&self.gid_map, host)
    }
}

fn inside(map: &[IdExtent], host: u64) -> u64 {
    for e in map {
        let lower = u64::from(e.lower_first);
        if host >= lower && host - lower < u64::from(e.count) {
            return u64::from(e.first) + (host - lower);
        }
    }
    OVERFLOW_ID
}

/// `uid_map` / `gid_map` as the kernel prints them (`%10u %10u %10u` per extent).
pub fn render_map(map: &[IdExtent]) -> Vec<u8> {
    let mut s = String::new();
    for e in map {
        s.push_str(&format!(
            "{:>10} {:>10} {:>10}\n",
            e.first, e.lower_first, e.count
        ));
    }
    s.into_bytes()
}

/// The user namespace of `root_pid` (`ids-<pid>.img`'s `user_ns_id` names the image, decimal as
/// CRIU writes it; the only `userns-*.img` when that says nothing). None: the tree shares the
/// host's user namespace (CRIU writes no image then). A broken image is a warning.
pub fn load(dir: &ImageDir, root_pid: u32, warnings: &mut Warnings) -> Option<UserNs> {
    let ids_name = format!("ids-{root_pid}.img");
    let id = dir.files.get(&ids_name).and_then(|b| {
        image::decode_one::<pb::TaskKobjIdsEntry>(&ids_name, b.bytes(), magic::IDS)
            .ok()
            .and_then(|i| i.user_ns_id)
    });
    let named = id.map(|i| format!("userns-{i}.img"));
    let name =
        match named.filter(|n| dir.files.contains_key(n)) {
            Some(n) => n,
            None => {
                let mut all = dir
                    .files
                    .keys()
                    .filter(|k| k.starts_with("userns-") && k.ends_with(".img"));
                let first = all.next()?.clone();
                if all.next().is_some() {
                    warnings.push(Kind::UnknownUserNamespace, format!(
                    "{}: several userns-*.img and no ids-{root_pid}.img naming one: owners are \
                     shown as the layers record them",
                    dir.label
                ));
                    return None;
                }
                first
            }
        };
    let blob = dir.files.get(&name)?;
    match image::decode_one::<pb::UsernsEntry>(&name, blob.bytes(), magic::USERNS) {
        Ok(e) => {
            let ext = |v: &[pb::UidGidExtent]| {
                v.iter()
                    .map(|x| IdExtent {
                        first: x.first,
                        lower_first: x.lower_first,
                        count: x.count,
                    })
                    .collect()
            };
            Some(UserNs {
                uid_map: ext(&e.uid_map),
                gid_map: ext(&e.gid_map),
            })
        }
        Err(e) => {
            warnings.push(
                Kind::UnknownUserNamespace,
                format!(
                    "{}: {e}: the container's user namespace is unknown; owners are shown as the \
                 layers record them",
                    dir.label
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_map_into_the_container_and_render_like_proc() {
        let ns = UserNs {
            uid_map: vec![
                IdExtent {
                    first: 0,
                    lower_first: 100_000,
                    count: 65536,
                },
                IdExtent {
                    first: 70000,
                    lower_first: 5,
                    count: 1,
                },
            ],
            gid_map: vec![],
        };
        assert_eq!(ns.uid_inside(100_100), 100);
        assert_eq!(ns.uid_inside(100_000), 0);
        assert_eq!(ns.uid_inside(165_536), OVERFLOW_ID);
        assert_eq!(ns.uid_inside(5), 70000);
        assert_eq!(ns.uid_inside(0), OVERFLOW_ID);
        assert_eq!(ns.gid_inside(100_100), OVERFLOW_ID);
        assert_eq!(
            render_map(&ns.uid_map),
            b"         0     100000      65536\n     70000          5          1\n"
        );
    }
}
