//! `ckptfs inspect CHECKPOINT...`: checkpointctl's tree view of a checkpoint, and its JSON.
//!
//! ```text
//!
//! Displaying container checkpoint tree view from checkpoint.tar.gz
//!
//! fx-busybox
//! ├── Image: localhost/fixture-busybox:latest
//! ├── ID: 2a5c15b736f04ac9ce5122fcae32ecd6ca063d55526bb05ae9b1c8d620be6fc6
//! ├── Runtime: runc
//! ├── Created: 2026-11-28T14:47:37Z
//! ├── Engine: Podman
//! ├── Network Interfaces
//! │   └── podman (eth0)
//! │       ├── IP: 10.88.0.13/16
//! │       ├── MAC: d6:cf:7b:43:b8:3d
//! │       └── Gateway: 10.88.0.1
//! ├── Checkpoint size: 246.4 KiB
//! │   └── Memory pages size: 200.0 KiB
//! ├── Root FS diff size: 2.0 KiB
//! └── Process tree
//!     └── [1]  sh
//!         ├── [6]  httpd
//!         └── [7]  sleep
//! ```
//!
//! The network lines come from the model's interfaces ([`crate::model::network`], parsed once at
//! load): with `network.status` (Podman), a `Network Interfaces` subtree with every interface of
//! every network, as checkpointctl v1.5 prints it (IP with prefix length, MAC, gateway); without
//! it (CRI-O's annotations), `IP:` / `MAC:` lines after `Engine:`; nothing when none is known.
//!
//! Sections, in this order, each when asked for: `--stats` (CRIU dump statistics), `--metadata`
//! (pod, namespace, `spec.dump` annotations), `--ps-tree` (process tree; implied by `-p`,
//! `--ps-tree-cmd`, `--ps-tree-env`, `--files`, `--sockets`), `--mounts` (the OCI spec's mounts).
//! `--all` turns on all of them. Under each process: its environment, open files and open
//! sockets, then its children (in PID order).
//!
//! # JSON (`--format json`)
//!
//! An array with one object per checkpoint, pretty-printed with two-space indent, keys in this
//! order (checkpointctl's schema, so its consumers keep working; `<`, `>` and `&` inside strings
//! are written `\u003c`, `\u003e`, `\u0026` as Go does):
//!
//! ```text
//! container_name  string | null   (null: unknown, e.g. a plain CRIU dump)
//! image           string | null
//! id              string | null   (full container id)
//! runtime         string | null
//! created         string | null   (RFC 3339, no fractional seconds)
//! checkpointed    string          (only when config.dump has it)
//! engine          string | null   ("Podman", "CRI-O", "containerd")
//! ip, mac         string          (only when known: the first interface with an address, its first
//!                                  address without prefix length; CRI-O: io.kubernetes.cri-o.IP.0)
//! networks        [ {name, interfaces: {IFNAME: {ip ("10.88.0.13/16"), mac, gateway}}} ]
//!                                 (only when network.status names interfaces; one entry per
//!                                  network, every interface, each with its first address)
//! architecture    string          (only when the dump is not x86_64: "aarch64", "riscv64", ...)
//! criu_plugins    [string]        (only when inventory.img names CRIU plugins, e.g. amdgpu_plugin)
//! checkpoint_size {total_size, memory_pages_size, root_fs_diff_size}   bytes; a zero is left out
//! parent_dumps    [ {path, total_size, memory_pages_size} ]   (only for an incremental dump: the
//!                                  dumps its `parent` links lead to, nearest first)
//! statistics      {freezing_time, frozen_time, memdump_time, memwrite_time (µs),
//!                  pages_scanned, pages_written}                 (--stats; zeros left out)
//! metadata        {pod_name, kubernetes_namespace, annotations: {KEY: VALUE}}   (--metadata)
//! process_tree    {pid, command (comm), cmdline (--ps-tree-cmd), task_state ("Alive", "Dead",
//!                  "Stopped", "Zombie"), syscalls {TID: "pause (34)"} (ckptfs's own),
//!                  environment_variables {NAME: VALUE} (--ps-tree-env),
//!                  children [...] (PID order)}                   (--ps-tree)
//! additional_process_trees [process_tree...]   (only when the checkpoint has several roots)
//! file_descriptors [ {pid, open_files: [ {type ("REG", "PIPE", "INETSK", ... ; "" for cwd and
//!                  root), fd ("REG 0", "cwd", "root"), path} ]} ]                   (--files)
//! sockets         [ {pid, open_sockets: [ {protocol ("TCP", "UDP", ...), data: {type, address,
//!                  state, src, src_port, dst, dst_port, send_buf, recv_buf}, fds} ]} ]
//!                                                                                  (--sockets)
//! mounts          [ {destination, type, source} ]                                  (--mounts)
//! ```
//! Empty strings, zero ports, empty lists and maps are left out, as checkpointctl does.
//!
//! # Where ckptfs differs from checkpointctl, on purpose
//! - Task state 3 is `Stopped` (checkpointctl v1.5 says `Zombie`, as CRIU's pretty-printer does),
//!   and a stopped task's environment, files and children are shown (checkpointctl skips them,
//!   taking it for a zombie).
//! - Orders are deterministic: annotations sorted by key, environment variables in the order of
//!   the process's memory (checkpointctl: Go map order, different each run), JSON children in PID
//!   order (checkpointctl sorts them only in the tree).
//! - A socket descriptor's path is what `/proc/PID/fd` shows, `socket:[INODE]` (checkpointctl:
//!   `INETSK.8`, CRIU's internal file id, which matches nothing outside the images).
//! - A socket is one entry however many descriptors hold it, with those descriptors (`fds`; the
//!   tree: `(fds 0, 1, 2; ...)`), and the tree labels `SO_SNDBUF` / `SO_RCVBUF` as buffer sizes
//!   (`buffer sizes: send 3.8 MB, recv 128.0 KB`; checkpointctl: one line per descriptor,
//!   `(↑ 3.8 MB ↓ 128.0 KB)`, which reads like traffic).
//! - IPv6 addresses are printed correctly (checkpointctl keeps only the last 32 bits).
//! - CRIU's durations (`--stats`) are exact (`999.999 ms`; checkpointctl rounds to five significant
//!   digits: `1000 ms`).
//! - The command line follows the kernel's rules (`/proc/PID/cmdline`, including
//!   `setproctitle()`), not the raw argument area.
//! - Plain CRIU image directories are accepted: unknown container fields are `-` in the tree and
//!   `null` in JSON.
//!
//! The module's parts: [`collect`] (model → [`output`]), [`output`] (the JSON object), [`draw`]
//! (the tree); open files and sockets are [`crate::views::fds`]'s.

pub mod collect;
pub mod draw;
pub mod output;

use std::io::Write;
use std::path::PathBuf;

use super::{Error, Format, to_json, write_out};
use crate::source::OpenOptions;

pub use collect::collect;
pub use draw::tree;
pub use output::Inspected;

/// What to include, after `--all` and the implications.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sections {
    pub ps_tree: bool,
    pub cmd: bool,
    pub env: bool,
    pub files: bool,
    pub sockets: bool,
    pub mounts: bool,
    pub stats: bool,
    pub metadata: bool,
    pub pid: Option<u32>,
}

/// Writes the `inspect` output for `checkpoints` to `out`.
pub fn run(
    checkpoints: &[PathBuf],
    sections: &Sections,
    format: Format,
    open: &OpenOptions,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let mut all = Vec::with_capacity(checkpoints.len());
    // A checkpoint that cannot be read has its error line on stderr; the others are shown.
    let loaded = super::each_input(checkpoints, |p| {
        let ck = super::load_for_view(p, open)?;
        let i = collect::collect(&ck, sections)?;
        match format {
            Format::Tree => {
                let s = format!(
                    "\nDisplaying container checkpoint tree view from {}\n\n{}\n",
                    p.display(),
                    draw::tree(&i, sections).render()
                );
                write_out(out, s.as_bytes())
            }
            Format::Json => {
                all.push(i);
                Ok(())
            }
        }
    });
    if format == Format::Json && (loaded.is_ok() || !all.is_empty()) {
        write_out(out, to_json(&all).as_bytes())?;
    }
    loaded
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::collect::networks;
    use super::output::*;
    use super::*;

    /// A Podman container on two networks (checkpointctl's `network.status.multi`): both
    /// addresses and both MACs in `ip` / `mac`, both interfaces in the tree.
    #[test]
    fn two_networks_on_a_written_archive() {
        use crate::writer::{CheckpointWriter, Compression, Layout};
        let dir = std::env::temp_dir().join(format!("ckptfs-inspect-nets-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut w = CheckpointWriter::new();
        w.process(1, 0).comm("sh").cmdline(&["sh"]);
        w.archive_file(
            "network.status",
            br#"{"net1":{"interfaces":{"eth0":{"subnets":[{"ipnet":"10.89.0.2/24","gateway":"10.89.0.1"}],"mac_address":"32:ba:b8:45:bc:84"}}},
                "net2":{"interfaces":{"eth1":{"subnets":[{"ipnet":"10.89.1.2/24","gateway":"10.89.1.1"}],"mac_address":"5e:b7:fe:ee:e0:d8"}}}}"#,
        );
        let tar = dir.join("ck.tar");
        w.write_tar(&tar, &Layout::podman("two-nets"), Compression::None)
            .unwrap();
        let open = OpenOptions {
            cache_dir: Some(dir.join("cache")),
            ..OpenOptions::default()
        };
        let run_fmt = |format| {
            let mut out = Vec::new();
            run(
                std::slice::from_ref(&tar),
                &Sections::default(),
                format,
                &open,
                &mut out,
            )
            .unwrap();
            String::from_utf8(out).unwrap()
        };
        let json: serde_json::Value = serde_json::from_str(&run_fmt(Format::Json)).unwrap();
        assert_eq!(json[0]["ip"], "10.89.0.2, 10.89.1.2");
        assert_eq!(json[0]["mac"], "32:ba:b8:45:bc:84, 5e:b7:fe:ee:e0:d8");
        assert_eq!(
            json[0]["networks"][1]["interfaces"]["eth1"]["ip"],
            "10.89.1.2/24"
        );
        let t = run_fmt(Format::Tree);
        for want in [
            "net1 (eth0)",
            "IP: 10.89.0.2/24",
            "MAC: 32:ba:b8:45:bc:84",
            "Gateway: 10.89.0.1",
            "net2 (eth1)",
            "IP: 10.89.1.2/24",
            "MAC: 5e:b7:fe:ee:e0:d8",
            "Gateway: 10.89.1.1",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn networks_from_the_model() {
        use crate::model::network::{NetAddress, NetInterface, parse_network_status};
        // Podman 4: one network, one interface (the fixture's shape).
        let v = parse_network_status(
            br#"{"podman":{"interfaces":{"eth0":{"subnets":[{"ipnet":"10.88.0.13/16","gateway":"10.88.0.1"}],"mac_address":"d6:cf:7b:43:b8:3d"}}}}"#,
        )
        .unwrap();
        let (nets, ip, mac) = networks(&v);
        assert_eq!(ip.as_deref(), Some("10.88.0.13"));
        assert_eq!(mac.as_deref(), Some("d6:cf:7b:43:b8:3d"));
        assert_eq!(
            nets,
            [Network {
                name: "podman".into(),
                interfaces: BTreeMap::from([(
                    "eth0".to_string(),
                    Interface {
                        ip: "10.88.0.13/16".into(),
                        mac: "d6:cf:7b:43:b8:3d".into(),
                        gateway: "10.88.0.1".into(),
                    }
                )]),
            }]
        );
        let i = Inspected {
            engine: Some("Podman".into()),
            networks: nets,
            ip,
            mac,
            ..Inspected::default()
        };
        let t = tree(&i, &Sections::default()).render();
        assert!(
            t.contains(
                "├── Engine: Podman\n\
                 ├── Network Interfaces\n\
                 │   └── podman (eth0)\n\
                 │       ├── IP: 10.88.0.13/16\n\
                 │       ├── MAC: d6:cf:7b:43:b8:3d\n\
                 │       └── Gateway: 10.88.0.1\n\
                 └── Checkpoint size"
            ),
            "{t}"
        );
        // ip / mac: every address and every MAC of every interface, as checkpointctl joins
        // them; every interface of every network is listed.
        let v = vec![
            NetInterface {
                network: Some("a".into()),
                name: Some("eth0".into()),
                mac: Some("00:00:00:00:00:01".into()),
                addresses: vec![],
            },
            NetInterface {
                network: Some("b".into()),
                name: Some("eth1".into()),
                mac: Some("00:00:00:00:00:02".into()),
                addresses: vec![
                    NetAddress {
                        address: "fd00::2/64".into(),
                        gateway: None,
                    },
                    NetAddress {
                        address: "10.0.0.2/24".into(),
                        gateway: Some("10.0.0.1".into()),
                    },
                ],
            },
            NetInterface {
                network: Some("a".into()),
                name: Some("eth2".into()),
                ..NetInterface::default()
            },
        ];
        let (nets, ip, mac) = networks(&v);
        assert_eq!(
            (ip.as_deref(), mac.as_deref()),
            (
                Some("fd00::2, 10.0.0.2"),
                Some("00:00:00:00:00:01, 00:00:00:00:00:02")
            )
        );
        let names: Vec<(&str, Vec<&str>)> = nets
            .iter()
            .map(|n| {
                (
                    n.name.as_str(),
                    n.interfaces.keys().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(names, [("a", vec!["eth0", "eth2"]), ("b", vec!["eth1"])]);
        assert_eq!(nets[1].interfaces["eth1"].ip, "fd00::2/64");
        assert_eq!(nets[1].interfaces["eth1"].gateway, "");
        // CRI-O's annotations: an address without interface name: ip only, no subtree.
        let v = vec![NetInterface {
            addresses: vec![NetAddress {
                address: "10.244.1.7".into(),
                gateway: None,
            }],
            ..NetInterface::default()
        }];
        let (nets, ip, mac) = networks(&v);
        assert!(nets.is_empty() && mac.is_none());
        assert_eq!(ip.as_deref(), Some("10.244.1.7"));
        let i = Inspected {
            ip,
            ..Inspected::default()
        };
        let t = tree(&i, &Sections::default()).render();
        assert!(
            t.contains("├── Engine: -\n├── IP: 10.244.1.7\n└── Checkpoint size"),
            "{t}"
        );
        // Nothing known: no network line at all.
        let (nets, ip, mac) = networks(&[]);
        assert!(nets.is_empty() && ip.is_none() && mac.is_none());
        let t = tree(&Inspected::default(), &Sections::default()).render();
        assert!(t.contains("├── Engine: -\n└── Checkpoint size"), "{t}");
    }
}
