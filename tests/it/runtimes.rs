//! What Kubernetes nodes produce: the runtimes' archive layouts (containerd 2.x, CRI-O) and
//! what CRIU 4.1-4.2 writes on current kernels (guard regions, ...).
//!
//! - `kitchen_guard_region_shown_once`: the real `podman-kitchen` fixture (CRIU 4.2, kernel
//!   6.18) has a `MADV_GUARD_INSTALL` page inside an anonymous VMA, which CRIU appends to
//!   mm-*.img as a fake `VMA_AREA_GUARD` VMA. Mounted, the VMA is one maps line (as
//!   ground-truth.json's maps), one `memory/` file whose sha256 is the truth's
//!   `sha256_unreadable_as_zero`, the guard page has pagemap bit 58, and no warning is printed.
//!
//! - `runtime_archives_of_the_fixtures`: the CRIU images of `secretd-plain`, `secretd-shm` and
//!   `podman-busybox`, packed by the in-repo writer (`ckptfs::writer::runtime`) in containerd 2.x's
//!   layout (gzip OCI layer as rootfs-diff.tar, whiteouts, container.log, status.dump) and in
//!   CRI-O's (`./` names, 0700 `checkpoint/`, deleted.files, the log under the name
//!   `io.kubernetes.cri-o.LogPath`), mounted and held to the fixtures' truth checks like the
//!   Podman archives (tests/it/archives.rs), plus: the log as `checkpoint/container.log`, the layer
//!   in `rootfs/` (over `--rootfs`: whiteouts, opaque directories, deleted.files), info.json.
//! - `runtime_views`: `show`, `inspect --format json` and `list` of those archives, as the kubelet
//!   names them: engine, container, pod, namespace per runtime.
//!
//! - `aarch64_and_riscv64_dumps`: writer-made dumps of both architectures (`ti_aarch64` /
//!   `ti_riscv64` core images), mounted: `task/TID/regs` holds the registers written,
//!   `PID/core` has the machine's `e_machine` and `gdb-multiarch -batch -ex 'info registers pc sp'`
//!   shows the values written for every thread; `show`, `inspect` and info.json name the arch.
//!
//! Fixtures: `<CARGO_MANIFEST_DIR>/../shared/fixtures`; missing fixtures or /dev/fuse skip a test,
//! except with `CI=true`, where they fail it.

use crate::common;

use std::os::unix::fs::FileExt;

use std::path::{Path, PathBuf};

use ckptfs::writer::{
    Aarch64Regs, Arch, ArchRegs, CheckpointWriter, K8sArchive, K8sContainer, Riscv64Regs, Vma,
};
use common::truth::{self, CASES, Checker, Failures};
use common::{Mount, TempDir, fixtures, have_fuse, ls, run_ok};
use serde_json::Value;

fn truth(case: &str) -> Option<(std::path::PathBuf, Value)> {
    let dir = fixtures()?.join(case);
    let t = common::read_json(&dir.join("ground-truth.json"));
    Some((dir, t))
}

fn hex(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn kitchen_guard_region_shown_once() {
    let Some((dir, t)) = truth("podman-kitchen") else {
        return;
    };
    if !have_fuse() {
        return;
    }
    let m = Mount::new(&dir.join("checkpoint.tar.gz"));
    let log = m.stderr_log();
    assert!(!log.contains("overlaps"), "guard VMAs warned about: {log}");
    let mut checked = 0;
    for p in t["processes"].as_array().unwrap() {
        let pid = truth::ns_pid(p);
        for v in p["vmas"].as_array().unwrap() {
            let Some(guards) = v.get("guard_page_ranges") else {
                continue;
            };
            let (start, end) = (hex(&v["start"]), hex(&v["end"]));
            let maps = std::fs::read_to_string(m.join(format!("{pid}/maps"))).unwrap();
            let range = format!("{start:x}-{end:x} ");
            let truth_line = p["maps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .find(|l| l.starts_with(&range))
                .unwrap();
            let ours: Vec<&str> = maps
                .lines()
                .filter(|l| {
                    let a = l.split('-').next().unwrap();
                    let a = u64::from_str_radix(a, 16).unwrap();
                    a >= start && a < end
                })
                .collect();
            assert_eq!(ours.len(), 1, "PID {pid}: {ours:?}");
            assert_eq!(
                ours[0].split_whitespace().take(2).collect::<Vec<_>>(),
                truth_line.split_whitespace().take(2).collect::<Vec<_>>(),
                "PID {pid}"
            );
            let mem = m.join(format!("{pid}/memory/{start:x}-{end:x}"));
            let want = v["sha256_unreadable_as_zero"].as_str().unwrap();
            assert_eq!(common::sha256sum(mem.to_str().unwrap()), want, "PID {pid}");
            let listing = common::ls(m.p(format!("{pid}/memory")).as_str());
            assert_eq!(
                listing
                    .iter()
                    .filter(|n| n.starts_with(&format!("{start:x}")))
                    .count(),
                1,
                "{listing:?}"
            );
            let pagemap = std::fs::File::open(m.join(format!("{pid}/pagemap"))).unwrap();
            for r in guards.as_array().unwrap() {
                let (a, b) = (r[0].as_u64().unwrap(), r[1].as_u64().unwrap());
                for page in a..=b {
                    let mut e = [0u8; 8];
                    let vpn = start / 4096 + page;
                    pagemap.read_exact_at(&mut e, vpn * 8).unwrap();
                    assert_eq!(
                        u64::from_le_bytes(e),
                        1 << 58,
                        "PID {pid} page {page}: PM_GUARD_REGION only"
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 2,
        "the kitchen truth has guard regions in 2 processes"
    );
}

/// The CRIU image directory of a fixture case (the Podman one extracted into `staging`, with
/// its stats-dump back in the image directory where CRIU wrote it).
fn images_of(fx: &Path, case: &str, staging: &TempDir) -> PathBuf {
    if case == "podman-busybox" {
        let root = staging.join("podman-busybox-extracted");
        if !root.exists() {
            common::archive::extract(&fx.join(case).join("checkpoint.tar.gz"), &root);
            // CRIU wrote stats-dump into its image directory; Podman moved it out.
            std::fs::copy(root.join("stats-dump"), root.join("checkpoint/stats-dump")).unwrap();
        }
        return root.join("checkpoint");
    }
    let input = CASES.iter().find(|c| c.0 == case).unwrap().1;
    fx.join(case).join(input)
}

const LOG: &[u8] = b"2026-11-28T10:00:01.000000001Z stdout F starting\n\
2026-11-28T10:04:59.000000002Z stderr F token=RUNTIME-LOG-IOC\n";

/// The archive of `images` in one runtime's layout (`crio` or containerd), named as the
/// kubelet names it, in `dir`.
fn runtime_archive(images: &Path, crio: bool, ctr: &str, dir: &Path) -> PathBuf {
    let mut a = K8sArchive::new(K8sContainer::new("prod", &format!("{ctr}-pod"), ctr));
    a.images_from = Some(images.to_path_buf());
    a.log = LOG.to_vec();
    a.rootfs.files = vec![
        (
            "tmp/dropper.sh".into(),
            b"curl RUNTIME-ROOTFS-IOC | sh\n".to_vec(),
        ),
        ("etc/conf.d/new.conf".into(), b"new\n".to_vec()),
    ];
    a.rootfs.deleted = vec!["etc/passwd".into()];
    if !crio {
        a.rootfs.opaque_dirs = vec!["etc/conf.d".into()];
    }
    common::writer::kube_archive_in(dir, a, crio)
}

/// A lower layer for `--rootfs`: files the container's layer deletes or hides.
fn lower_layer(staging: &TempDir) -> PathBuf {
    let lower = staging.join("lower");
    std::fs::create_dir_all(lower.join("etc/conf.d")).unwrap();
    std::fs::write(lower.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
    std::fs::write(lower.join("etc/conf.d/old.conf"), "old\n").unwrap();
    std::fs::write(lower.join("etc/hostname"), "node\n").unwrap();
    lower
}

#[test]
fn runtime_archives_of_the_fixtures() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let staging = TempDir::new("runtimes");
    let lower = lower_layer(&staging);
    let lower_arg = lower.to_str().unwrap();
    let mut failures = Failures::default();
    for case in ["secretd-plain", "secretd-shm", "podman-busybox"] {
        let input = CASES.iter().find(|c| c.0 == case).unwrap().1;
        let f = truth::load(&fx, case, input);
        let images = images_of(&fx, case, &staging);
        for crio in [false, true] {
            let runtime = if crio { "CRI-O" } else { "containerd" };
            let label = format!("{case} {runtime}");
            let a = runtime_archive(&images, crio, case, staging.path());
            let Some(m) = failures.mount(&label, &a, &["--rootfs", lower_arg]) else {
                continue;
            };
            let mut c = Checker::new(&label);
            truth::check_tree(&m, &f, &mut c);
            let log = m.stderr_log();
            c.check(!log.contains("warning"), || format!("warnings: {log}"));
            let cp = ls(&m.p("checkpoint"));
            let own: &[&str] = if crio {
                &[
                    "io.kubernetes.cri-o.LogPath",
                    "deleted.files",
                    "bind.mounts",
                ]
            } else {
                &["status", "status.dump"]
            };
            for want in [
                "config.dump",
                "spec.dump",
                "dump.log",
                "stats-dump",
                "rootfs-diff.tar",
                "container.log",
            ]
            .iter()
            .chain(own)
            {
                c.check(cp.iter().any(|n| n == want), || {
                    format!("checkpoint/ lacks {want}: {cp:?}")
                });
            }
            let got = std::fs::read(m.join("checkpoint/container.log")).unwrap_or_default();
            c.check(got == LOG, || {
                format!("container.log: {}", String::from_utf8_lossy(&got))
            });
            let read = |p: &str| std::fs::read_to_string(m.join(p)).ok();
            c.check(
                read("rootfs/tmp/dropper.sh").is_some_and(|s| s.contains("RUNTIME-ROOTFS-IOC")),
                || "rootfs/tmp/dropper.sh missing".into(),
            );
            c.check(read("rootfs/etc/passwd").is_none(), || {
                "rootfs/etc/passwd is deleted by the layer".into()
            });
            c.check(
                read("rootfs/etc/hostname").as_deref() == Some("node\n"),
                || "rootfs/etc/hostname of --rootfs".into(),
            );
            c.check(read("rootfs/etc/conf.d/new.conf").is_some(), || {
                "rootfs/etc/conf.d/new.conf".into()
            });
            // Only containerd's OCI layer can say the directory was replaced whole.
            c.check(read("rootfs/etc/conf.d/old.conf").is_some() == crio, || {
                "rootfs/etc/conf.d/old.conf (opaque directory)".into()
            });
            let info: Value = serde_json::from_slice(
                &std::fs::read(m.join("checkpoint/info.json")).unwrap_or_default(),
            )
            .unwrap_or(Value::Null);
            for (k, v) in [
                ("engine", runtime),
                ("container_name", case),
                ("pod", &format!("{case}-pod")),
                ("namespace", "prod"),
                ("checkpointed", "2026-11-28T10:05:00.123456789Z"),
            ] {
                c.check(info[k] == v, || format!("info.json {k}: {}", info[k]));
            }
            failures.add(c);
        }
    }
    failures.finish();
}

#[test]
fn runtime_views() {
    let Some(fx) = fixtures() else { return };
    let staging = TempDir::new("runtime-views");
    let dir = staging.join("kubelet");
    std::fs::create_dir_all(&dir).unwrap();
    let images = images_of(&fx, "secretd-plain", &staging);
    let containerd = runtime_archive(&images, false, "api", &dir);
    let crio = runtime_archive(&images, true, "worker", &dir);
    let ck = common::ckptfs();
    for (path, engine, ctr) in [
        (&containerd, "containerd", "api"),
        (&crio, "CRI-O", "worker"),
    ] {
        let p = path.to_str().unwrap();
        let show = run_ok(&[ck, "show", p]).stdout_text();
        let row = show
            .lines()
            .find(|l| l.starts_with(ctr))
            .unwrap_or_else(|| panic!("{show}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        // CONTAINER IMAGE ID RUNTIME CREATED ENGINE CHKPT-SIZE(2) ROOT-FS-DIFF-SIZE(2)
        assert_eq!(cols[0], ctr, "{show}");
        assert_eq!(cols[1], "docker.io/library/busybox:latest", "{show}");
        assert_eq!(cols[2], "4f1d7c3a9b2e", "{show}");
        let runtime = if engine == "CRI-O" {
            "runc"
        } else {
            "io.containerd.runc.v2"
        };
        assert_eq!(cols[3], runtime, "{show}");
        assert_eq!(cols[5], engine, "{show}");
        let j: Value = serde_json::from_str(
            &run_ok(&[
                ck,
                "inspect",
                p,
                "--metadata",
                "--stats",
                "--format",
                "json",
            ])
            .stdout_text(),
        )
        .unwrap();
        let j = &j[0];
        assert_eq!(j["engine"], engine);
        assert_eq!(j["container_name"], ctr);
        assert_eq!(j["runtime"], runtime);
        assert_eq!(j["checkpointed"], "2026-11-28T10:05:00Z");
        assert_eq!(j["metadata"]["pod_name"], format!("{ctr}-pod"));
        assert_eq!(j["metadata"]["kubernetes_namespace"], "prod");
        assert!(
            j["statistics"]["pages_written"].as_u64().unwrap_or(0) > 0,
            "{j}"
        );
        let tree = run_ok(&[ck, "inspect", p]).stdout_text();
        assert!(
            tree.starts_with(&format!(
                "\nDisplaying container checkpoint tree view from {p}\n\n{ctr}\n"
            )),
            "{tree}"
        );
        assert!(tree.contains(&format!("├── Engine: {engine}\n")), "{tree}");
    }
    let list = run_ok(&[ck, "list", dir.to_str().unwrap()]).stdout_text();
    let rows: Vec<Vec<&str>> = list
        .lines()
        .filter(|l| l.starts_with("prod"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec![
                "prod",
                "api-pod",
                "api",
                "containerd",
                "2026-11-28T10:05:00Z",
                containerd.file_name().unwrap().to_str().unwrap()
            ],
            vec![
                "prod",
                "worker-pod",
                "worker",
                "CRI-O",
                "2026-11-28T10:05:00Z",
                crio.file_name().unwrap().to_str().unwrap()
            ],
        ],
        "{list}"
    );
}

/// (pc, sp) of a thread, per architecture, distinct per thread.
fn arch_regs(arch: Arch, tid: u32) -> (ArchRegs, u64, u64) {
    let pc = 0x40_0000 + u64::from(tid) * 0x124;
    let sp = 0x7fff_c000_0000 - u64::from(tid) * 0x1000;
    let r = match arch {
        Arch::Aarch64 => {
            let mut x = [0u64; 31];
            for (i, v) in x.iter_mut().enumerate() {
                *v = 0x1000 + i as u64;
            }
            ArchRegs::Aarch64(Aarch64Regs {
                x,
                sp,
                pc,
                pstate: 0x6000_0000,
                tls: 0xffff_b7ff_7000 + u64::from(tid),
                vregs: (0..64).collect(),
                fpsr: 0x10,
                fpcr: 0,
            })
        }
        _ => {
            let mut regs = [0u64; 32];
            for (i, v) in regs.iter_mut().enumerate() {
                *v = 0x2000 + i as u64;
            }
            regs[0] = pc;
            regs[2] = sp;
            ArchRegs::Riscv64(Riscv64Regs {
                regs,
                f: (0..32).collect(),
                fcsr: 0x1,
            })
        }
    };
    (r, pc, sp)
}

#[test]
fn aarch64_and_riscv64_dumps() {
    if !have_fuse() {
        return;
    }
    let gdb = common::have_tool("gdb-multiarch", "apt-get install -y gdb-multiarch");
    let staging = TempDir::new("arch");
    let ck = common::ckptfs();
    for (arch, name, machine) in [
        (Arch::Aarch64, "aarch64", 183u16),
        (Arch::Riscv64, "riscv64", 243),
    ] {
        let mut w = CheckpointWriter::new();
        w.arch(arch);
        let marker = format!("{name}-MARKER-in-memory");
        {
            let p = w.process(1, 0);
            p.comm("app")
                .threads(&[1, 7])
                .cmdline(&["/app", "--serve"])
                .vma(Vma::anon(0x5000_0000_0000, 4 * 4096).rw())
                .pages(0x5000_0000_0000, marker.as_bytes());
            for tid in [1, 7] {
                p.arch_regs(tid, arch_regs(arch, tid).0);
            }
        }
        let dir = staging.join(name);
        w.write_dir(&dir).unwrap();
        let d = dir.to_str().unwrap();
        let show = run_ok(&[ck, "show", d]).stdout_text();
        assert!(
            show.contains(" ARCH\n") || show.contains("   ARCH"),
            "{show}"
        );
        assert!(show.lines().any(|l| l.trim_end().ends_with(name)), "{show}");
        let tree = run_ok(&[ck, "inspect", d]).stdout_text();
        assert!(
            tree.contains(&format!("── Architecture: {name}\n")),
            "{tree}"
        );
        let j: Value =
            serde_json::from_str(&run_ok(&[ck, "inspect", d, "--format", "json"]).stdout_text())
                .unwrap();
        assert_eq!(j[0]["architecture"], name);

        let m = Mount::new(&dir);
        let log = m.stderr_log();
        assert!(!log.contains("warning"), "{log}");
        let info: Value = common::read_json(&m.join("checkpoint/info.json"));
        assert_eq!(info["arch"], name);
        for tid in [1u32, 7] {
            let (_, pc, sp) = arch_regs(arch, tid);
            let regs = std::fs::read_to_string(m.join(format!("1/task/{tid}/regs"))).unwrap();
            assert!(regs.contains(&format!("pc: 0x{pc:016x}\n")), "{regs}");
            assert!(regs.contains(&format!("sp: 0x{sp:016x}\n")), "{regs}");
        }
        let core = m.join("1/core");
        let mut head = [0u8; 20];
        std::fs::File::open(&core)
            .unwrap()
            .read_exact_at(&mut head, 0)
            .unwrap();
        assert_eq!(&head[..4], b"\x7fELF");
        assert_eq!(
            u16::from_le_bytes([head[18], head[19]]),
            machine,
            "{name} e_machine"
        );
        // PID/core is procfs-style (size 0): readelf checks headers against st_size, so it reads
        // a copy (`cp` copies the whole core).
        let copy = staging.join(format!("{name}.core"));
        run_ok(&["cp", core.to_str().unwrap(), copy.to_str().unwrap()]);
        let re = run_ok(&["readelf", "-a", "-W", copy.to_str().unwrap()]);
        let text = format!("{}{}", re.stdout_text(), re.stderr_text());
        assert!(
            !text.contains("Warning") && !text.contains("Error"),
            "{name}: readelf: {text}"
        );
        if !gdb {
            continue;
        }
        let o = run_ok(&[
            "gdb-multiarch",
            "-batch",
            "-nx",
            "-c",
            core.to_str().unwrap(),
            "-ex",
            "info threads",
            "-ex",
            "thread 1",
            "-ex",
            "info registers pc sp",
            "-ex",
            "thread 2",
            "-ex",
            "info registers pc sp",
            "-ex",
            &format!("x/s 0x{:x}", 0x5000_0000_0000u64),
        ]);
        let out = o.stdout_text();
        let err = o.stderr_text();
        assert!(!err.contains("warning"), "{name}: gdb-multiarch: {err}");
        assert!(out.contains(&marker), "{name}: memory through gdb: {out}");
        let value = |reg: &str, nth: usize| -> u64 {
            let l = out
                .lines()
                .filter(|l| l.split_whitespace().next() == Some(reg))
                .nth(nth)
                .unwrap_or_else(|| panic!("{name}: no {reg} line {nth}: {out}"));
            let v = l.split_whitespace().nth(1).unwrap();
            u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap()
        };
        // gdb numbers the threads in note order: the main thread (TID 1) first.
        for (nth, tid) in [(0, 1u32), (1, 7)] {
            let (_, pc, sp) = arch_regs(arch, tid);
            assert_eq!(value("pc", nth), pc, "{name} thread {tid} pc: {out}");
            assert_eq!(value("sp", nth), sp, "{name} thread {tid} sp: {out}");
        }
        assert!(out.contains("LWP 7"), "{name}: {out}");
    }
}
