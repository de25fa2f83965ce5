use super::*;
use super::{identity::*, memory::*, net::*, secrets::*};
use crate::model::FileKind;
use crate::model::load::load;
use crate::model::process::vma_status;
use crate::source::{self, OpenOptions};
use crate::writer::{CheckpointWriter, File, Vma as WVma};

/// Writes `w` as an image directory, loads it.
fn load_w(w: &CheckpointWriter) -> Checkpoint {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("img");
    w.write_dir(&img).unwrap();
    let src = source::open(
        &img,
        &OpenOptions {
            cache_dir: Some(dir.path().join("cache")),
            ..Default::default()
        },
    )
    .unwrap();
    // The blobs are mmapped: they stay valid after the directory is removed.
    let ck = load(src).unwrap();
    drop(dir);
    ck
}

fn tags(f: &[Finding]) -> Vec<&'static str> {
    f.iter().map(|x| x.tag).collect()
}

/// A plain, unremarkable process: pid 1, `/usr/bin/app` run as `app`, r-x text, rw data.
fn base(w: &mut CheckpointWriter, pid: u32) {
    w.process(pid, 0)
        .comm("app")
        .cmdline(&["/usr/bin/app", "--serve"])
        .environ(&["PATH=/usr/bin", "HOME=/"])
        .exe("/usr/bin/app")
        .file_vma(0x40_0000, 0x1000, "/usr/bin/app", 0, 1 | 4)
        .vma(WVma::anon(0x7000_0000_0000, 0x2000))
        .vma(WVma::vdso(0x7fff_f000_0000, 0x2000))
        .vma(WVma::vsyscall());
}

/// One finding per credential-looking variable, with every PID that carries it.
#[test]
fn credentials_in_the_environment() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    base(&mut w, 2);
    base(&mut w, 3);
    let env = [
        "PATH=/usr/bin",
        "PGPASSWORD=hunter2",
        "GITHUB_TOKEN=ghp_x",
        "AWS_SECRET_ACCESS_KEY=abc",
        "SSH_KEY=k",
        "KEYBOARD=us",
    ];
    w.process(1, 0).environ(&env);
    w.process(2, 1).environ(&env);
    w.process(3, 1)
        .environ(&["PGPASSWORD=other", "db_password=x"]);
    let ck = load_w(&w);
    let f: Vec<String> = findings(&ck)
        .iter()
        .filter(|f| f.tag == "env-credential")
        .map(Finding::line)
        .collect();
    assert_eq!(
        f,
        [
            "PID 1 PGPASSWORD env-credential: [weak] credential-looking variable in environ of PIDs 1, 2: PGPASSWORD=[7 chars]",
            "PID 1 GITHUB_TOKEN env-credential: [weak] credential-looking variable in environ of PIDs 1, 2: GITHUB_TOKEN=[5 chars]",
            "PID 1 AWS_SECRET_ACCESS_KEY env-credential: [weak] credential-looking variable in environ of PIDs 1, 2: AWS_SECRET_ACCESS_KEY=[3 chars]",
            "PID 1 SSH_KEY env-credential: [weak] credential-looking variable in environ of PIDs 1, 2: SSH_KEY=[1 chars]",
            "PID 3 PGPASSWORD env-credential: [weak] credential-looking variable in environ of PID 3: PGPASSWORD=[5 chars]",
            "PID 3 db_password env-credential: [weak] credential-looking variable in environ of PID 3: db_password=[1 chars]",
        ]
    );
}

#[test]
fn clean_process_has_no_findings() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    let ck = load_w(&w);
    let f = findings(&ck);
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(
        String::from_utf8(triage(&ck)).unwrap(),
        "# ckptfs triage: 0 findings (format: PID <pid> <where> <tag>: [<strength>] <what>)\nno findings\n"
    );
}

#[test]
fn executable_anonymous_memory() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(1, 0)
        .vma(WVma::anon(0x7f12_a000, 0x2000).rwx())
        .vma(WVma::anon(0x7f20_0000, 0x1000).rx())
        .vma(WVma::anon(0x7f30_0000, 0x1000).rw());
    let ck = load_w(&w);
    let p = ck.process(1).unwrap();
    let f = exec_anon(p);
    assert_eq!(tags(&f), ["rwx-anon", "exec-anon"], "{f:?}");
    assert_eq!(
        f[0].line(),
        "PID 1 7f12a000-7f12c000 rwx-anon: [strong] writable and executable anonymous mapping rwxp"
    );
    assert_eq!(f[1].at, "7f200000-7f201000");
    // vdso (r-x) and vsyscall (--x) are not reported, nor is the rwx-anon VMA twice.
    assert!(writable_exec(p).is_empty());
    let all = String::from_utf8(triage(&ck)).unwrap();
    assert!(
        all.contains("\nPID 1 7f12a000-7f12c000 rwx-anon: "),
        "{all}"
    );
    assert!(
        !all.contains("vdso") && !all.contains("ffffffffff600000"),
        "{all}"
    );
}

#[test]
fn executable_heap_and_stack() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(1, 0)
        .vma(WVma::heap(0x5555_0000_0000, 0x21000).rwx());
    let ck = load_w(&w);
    let f = exec_anon(ck.process(1).unwrap());
    assert_eq!(tags(&f), ["rwx-anon"]);
    assert!(f[0].what.contains("[heap]"), "{f:?}");
}

#[test]
fn writable_executable_file_mapping() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(1, 0)
        .file_vma(0x50_0000, 0x1000, "/usr/lib/libjit.so", 0, 7)
        .file_vma(0x60_0000, 0x1000, "/usr/lib/libok.so", 0, 5);
    let ck = load_w(&w);
    let p = ck.process(1).unwrap();
    let f = writable_exec(p);
    assert_eq!(tags(&f), ["wx-file"]);
    assert_eq!(f[0].at, "500000-501000");
    assert!(f[0].what.contains("/usr/lib/libjit.so"));
    assert!(exec_anon(p).is_empty());
}

#[test]
fn memfd_and_deleted_mappings() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(1, 0)
        .vma(WVma::memfd(0x5ec2_0000_0000, 0x10000, "payload", 7).rx())
        .vma(WVma::memfd(0x5ec3_0000_0000, 0x10000, "data", 8))
        .vma(WVma::memfd(0x5ec1_0000_0000, 0x10000, "/dev/zero", 9))
        .file_vma(0x70_0000, 0x1000, "/usr/lib/libgone.so", 0, 5)
        .file_vma(0x80_0000, 0x1000, "/var/gone.dat", 0, 1);
    let mut ck = load_w(&w);
    // The writer cannot express an unlinked file: mark the two as the kernel names them.
    for v in &mut ck.processes[0].vmas {
        if let VmaName::File { path, deleted } = &mut v.name
            && path.contains("gone")
        {
            *deleted = true;
        }
    }
    let p = ck.process(1).unwrap();
    let f = deleted_or_memfd(p);
    assert_eq!(
        tags(&f),
        ["exec-deleted", "deleted-file", "exec-memfd", "memfd"],
        "{f:?}"
    );
    assert_eq!(f[2].at, "5ec200000000-5ec200010000");
    assert!(f[2].what.contains("/memfd:payload"), "{f:?}");
    assert!(f[3].what.contains("/memfd:data rw-s"), "{f:?}");
    assert!(f[0].what.contains("/usr/lib/libgone.so"), "{f:?}");
    // /dev/zero (shared anonymous) is not a file; rw-s is not executable anonymous memory.
    assert!(!f.iter().any(|x| x.what.contains("/dev/zero")));
    assert!(exec_anon(p).is_empty());

    // Negative: nothing deleted, no memfd.
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(1, 0).shared_anon(0x5ec1_0000_0000, 0x1000, 3);
    let ck = load_w(&w);
    assert!(deleted_or_memfd(ck.process(1).unwrap()).is_empty());
}

#[test]
fn deleted_exe() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    let mut ck = load_w(&w);
    let p = &mut ck.processes[0];
    let mut exe = (**p.exe.as_ref().unwrap()).clone();
    if let FileKind::Reg { deleted, .. } = &mut exe.kind {
        *deleted = true;
    }
    p.exe = Some(std::sync::Arc::new(exe));
    let f = deleted_or_memfd(&ck.processes[0]);
    assert_eq!(tags(&f), ["exe-deleted"]);
    assert!(f[0].what.contains("/usr/bin/app (deleted)"), "{f:?}");
}

#[test]
fn loader_variables() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(1, 0).environ(&[
        "PATH=/usr/bin",
        "LD_PRELOAD=/tmp/.x/libhook.so",
        "NOT_LD_PRELOAD=x",
        "LD_LIBRARY_PATH=",
    ]);
    base(&mut w, 2);
    w.process(2, 1).environ(&["LD_PRELOADX=1", "HOME=/"]);
    let ck = load_w(&w);
    let p = ck.process(1).unwrap();
    let f = loader_env(p);
    assert_eq!(tags(&f), ["ld-env", "ld-env"], "{f:?}");
    assert!(f[0].what.ends_with("LD_PRELOAD=/tmp/.x/libhook.so"));
    assert!(f[1].what.ends_with("LD_LIBRARY_PATH="));
    // The address is where the string lies in memory.
    let mm = p.mm.as_ref().unwrap();
    let addr = u64::from_str_radix(&f[0].at, 16).unwrap();
    assert_eq!(addr, mm.env_start + "PATH=/usr/bin\0".len() as u64);
    let mut buf = [0u8; 10];
    p.memory.read_at(addr, &mut buf).unwrap();
    assert_eq!(&buf, b"LD_PRELOAD");
    assert!(loader_env(ck.process(2).unwrap()).is_empty());
}

#[test]
fn exe_argv0_rules() {
    // Benign.
    for (exe, arg) in [
        ("app", "app"),
        ("python3.11", "python3"),
        ("busybox", "httpd"),
        ("dash", "sh"),
        ("bash", "-bash"),
        ("postgres", "postgres"),
        ("php-fpm8.2", "php-fpm"),
        ("x", ""),
    ] {
        assert!(same_program(exe, argv0_name(arg)), "{exe} vs {arg}");
    }
    assert_eq!(argv0_name("postgres: checkpointer"), "postgres");
    assert_eq!(argv0_name("nginx: worker process"), "nginx");
    assert_eq!(argv0_name("/usr/sbin/sshd"), "sshd");
    // Suspicious.
    for (exe, arg) in [
        ("nc", "[kworker/0:1]"),
        ("xmrig", "nginx"),
        ("python3", "sshd"),
        ("sh", "apache2"),
    ] {
        assert!(!same_program(exe, argv0_name(arg)), "{exe} vs {arg}");
    }
}

#[test]
fn exe_differs_from_argv0() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(2, 1)
        .comm("kworker/0:1")
        .cmdline(&["[kworker/0:1]"])
        .exe("/tmp/.cache/miner");
    w.process(3, 1)
        .comm("sh")
        .cmdline(&["/bin/sh", "/app/run.sh"])
        .exe("/usr/bin/dash");
    w.process(4, 1)
        .comm("httpd")
        .cmdline(&["httpd", "-f"])
        .exe("/bin/busybox");
    let ck = load_w(&w);
    let f = exe_mismatch(&ck, ck.process(2).unwrap());
    assert_eq!(tags(&f), ["exe-mismatch"]);
    assert_eq!(
        f[0].line(),
        "PID 2 - exe-mismatch: [weak] exe is /tmp/.cache/miner but argv[0] is \"[kworker/0:1]\"; the tree cannot tell a link in the image (--rootfs can) from a rewritten process title"
    );
    for pid in [1, 3, 4] {
        assert!(
            exe_mismatch(&ck, ck.process(pid).unwrap()).is_empty(),
            "{pid}"
        );
    }
}

#[test]
fn shells_found() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(2, 1)
        .comm("bash")
        .cmdline(&["-bash"])
        .exe("/bin/bash");
    w.process(3, 1)
        .comm("busybox")
        .cmdline(&["busybox", "ash"])
        .exe("/bin/busybox");
    w.process(4, 1)
        .comm("sh")
        .cmdline(&["/bin/sh", "-c", "sleep 1\nexit"])
        .exe("/bin/busybox");
    w.process(5, 1)
        .comm("shellcheck")
        .cmdline(&["shellcheck", "x.sh"])
        .exe("/usr/bin/shellcheck");
    let ck = load_w(&w);
    assert!(shells(ck.process(1).unwrap()).is_empty());
    assert!(shells(ck.process(5).unwrap()).is_empty());
    for pid in [2, 3, 4] {
        assert_eq!(tags(&shells(ck.process(pid).unwrap())), ["shell"], "{pid}");
    }
    let f = shells(ck.process(4).unwrap());
    assert_eq!(
        f[0].line(),
        "PID 4 - shell: [weak] sh is a shell: /bin/sh -c sleep 1\\nexit"
    );
}

#[test]
fn sockets_listening_and_connected() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(1, 0)
        .fd(3, File::tcp_listen(8080))
        .fd(
            4,
            File::tcp_established([10, 0, 0, 2], 40000, [1, 2, 3, 4], 443),
        )
        .fd(5, File::tcp6_listen(22))
        .fd(6, File::udp(53))
        .fd(7, File::unix_listen(b"/run/app.sock"))
        .fd(8, File::unix_listen(b"\0abstract"))
        .fd(9, File::reg("/etc/passwd"))
        .fd(10, File::pipe(77, false));
    base(&mut w, 2);
    let ck = load_w(&w);
    let f = sockets(ck.process(1).unwrap());
    assert_eq!(
        tags(&f),
        [
            "tcp-listen",
            "tcp-established",
            "tcp-listen",
            "udp-bound",
            "unix-listen",
            "unix-listen"
        ],
        "{f:?}"
    );
    assert_eq!(f[0].at, "0.0.0.0:8080");
    assert!(
        f[0].line()
            .starts_with("PID 1 0.0.0.0:8080 tcp-listen: [weak] listening TCP socket (fd 3")
    );
    assert_eq!(f[1].at, "10.0.0.2:40000->1.2.3.4:443");
    assert_eq!(f[2].at, "[::]:22");
    assert!(f[2].what.contains("TCP6"));
    assert_eq!(f[3].at, "0.0.0.0:53");
    assert_eq!(f[4].at, "/run/app.sock");
    assert_eq!(f[5].at, "@abstract");
    assert!(sockets(ck.process(2).unwrap()).is_empty());
}

#[test]
fn order_and_hostile_text() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(1, 0).fd(3, File::tcp_listen(1));
    w.process(7, 1)
        .comm("sh")
        .cmdline(&["sh\n", "x"])
        .exe("/bin/sh")
        .vma(WVma::anon(0x1000_0000, 0x1000).rwx());
    let ck = load_w(&w);
    let text = String::from_utf8(triage(&ck)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("# ckptfs triage: 3 findings"),
        "{text}"
    );
    assert!(lines[1].starts_with("PID 1 0.0.0.0:1 tcp-listen"), "{text}");
    assert!(
        lines[2].starts_with("PID 7 - shell: [weak] sh is a shell: sh\\n x"),
        "{text}"
    );
    assert!(
        lines[3].starts_with("PID 7 10000000-10001000 rwx-anon"),
        "{text}"
    );
    assert_eq!(lines.len(), 4);
}

/// A process's findings with the checkpoint's context (the rules that need it).
fn all_of(ck: &Checkpoint, pid: u32) -> Vec<Finding> {
    findings(ck)
        .into_iter()
        .filter(|f| f.pid == Some(pid))
        .collect()
}

#[test]
fn sysv_segment_is_not_a_deleted_file() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(1, 0).shared_anon(0x4b10_0000_0000, 0x1000, 3);
    let mut ck = load_w(&w);
    // As the kernel names an attached segment: `/SYSV<key> (deleted)`, VMA_AREA_SYSVIPC.
    for v in &mut ck.processes[0].vmas {
        if v.start == 0x4b10_0000_0000 {
            v.name = VmaName::File {
                path: "/SYSV4b495443".into(),
                deleted: true,
            };
            v.status = vma_status::SYSVIPC | vma_status::REGULAR;
        }
    }
    assert!(deleted_or_memfd(&ck.processes[0]).is_empty());
    // Without the status bit (an older dump), the name alone says SysV.
    ck.processes[0]
        .vmas
        .iter_mut()
        .for_each(|v| v.status &= !vma_status::SYSVIPC);
    assert!(deleted_or_memfd(&ck.processes[0]).is_empty());
}

#[test]
fn deleted_but_open_file() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(1, 0)
        .fd(8, File::reg("/tmp/x"))
        .fd(9, File::reg("/etc/hosts"));
    let mut ck = load_w(&w);
    let p = &mut ck.processes[0];
    for fd in &mut p.fds {
        if fd.fd == 8 {
            let mut f = (*fd.file).clone();
            if let FileKind::Reg { deleted, .. } = &mut f.kind {
                *deleted = true;
            }
            fd.file = std::sync::Arc::new(f);
        }
    }
    let f = deleted_or_memfd(&ck.processes[0]);
    assert_eq!(tags(&f), ["fd-deleted"], "{f:?}");
    assert_eq!(
        f[0].line(),
        "PID 1 fd/8 fd-deleted: [weak] open descriptor of a deleted file: fd/8 -> /tmp/x (deleted)"
    );
}

#[test]
fn credential_names() {
    for n in [
        "REDISCLI_AUTH",
        "npm_config__auth",
        "PGPASSWORD",
        "db_passwd",
        "MYSQL_PASS",
        "requirepass",
        "GPG_PASSPHRASE",
        "AWS_SECRET_ACCESS_KEY",
        "CLIENT_SECRETS",
        "GITHUB_TOKEN",
        "api-key",
        "APIKEY",
        "KRB5_KEYTAB",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "SECRET",
    ] {
        assert!(credential_name(n), "{n}");
    }
    for n in [
        "KEYBOARD",
        "SECRETD_CASE",
        "TOKENIZERS_PARALLELISM",
        "SSH_AUTH_SOCK",
        "XAUTHORITY",
        "PATH",
        "BYPASS",
        "PWD",
        "HOME",
    ] {
        assert!(!credential_name(n), "{n}");
    }
    assert!(secrets::url_with_password(
        "postgres://app:s3cret@db:5432/x"
    ));
    assert!(!secrets::url_with_password("https://user@example.com/"));
    assert!(!secrets::url_with_password("https://example.com/a:b@c"));
}

#[test]
fn credentials_by_value_and_in_arguments() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(1, 0).environ(&[
        "REDISCLI_AUTH=pw1",
        "DATABASE_URL=postgres://app:pw2@db/app",
        "HOME=/",
    ]);
    base(&mut w, 2);
    w.process(2, 1).cmdline(&[
        "/usr/bin/app",
        "--password",
        "pw3",
        "--api-key=pw4",
        "host=db password=pw5",
        r#"{"db_password": "pw6", "user": "x"}"#,
        "redis://:pw7@cache:6379",
        "--verbose",
        "--password-file=",
    ]);
    let ck = load_w(&w);
    let env: Vec<String> = findings(&ck)
        .iter()
        .filter(|f| f.tag == "env-credential")
        .map(|f| f.at.clone())
        .collect();
    assert_eq!(env, ["REDISCLI_AUTH", "DATABASE_URL"]);
    let url = findings(&ck)
        .into_iter()
        .find(|f| f.at == "DATABASE_URL")
        .map(|f| f.what);
    assert_eq!(
        url.as_deref(),
        Some(
            "credential-looking variable in environ of PID 1: DATABASE_URL=postgres://app:[3 chars]@db/app"
        )
    );
    let f = argv_credentials(ck.process(2).unwrap());
    let got: Vec<(String, String)> = f.iter().map(|f| (f.at.clone(), f.what.clone())).collect();
    let want = [
        ("argv[1]", "--password [3 chars]"),
        ("argv[3]", "--api-key=[3 chars]"),
        ("argv[4]", "password=[3 chars]"),
        ("argv[5]", r#""db_password": [3 chars]"#),
        ("argv[6]", "redis://:[3 chars]@cache:6379"),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((at, what), (wat, wwhat)) in got.iter().zip(want) {
        assert_eq!(at, wat);
        assert_eq!(what, &format!("credential-looking argument: {wwhat}"));
    }
    assert!(
        f.iter()
            .all(|x| x.tag == "argv-credential" && x.strength == Strength::Weak)
    );
    assert!(argv_credentials(ck.process(1).unwrap()).is_empty());
}

#[test]
fn kernel_thread_names() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(2, 1)
        .comm("kworker/0:1")
        .cmdline(&["[kworker/0:1]"])
        .exe("/tmp/.x/miner");
    w.process(3, 1)
        .comm("memfd:x")
        .cmdline(&["[kworker/u4:2]"])
        .exe("/usr/bin/app");
    w.process(4, 1)
        .comm("kthreadd")
        .cmdline(&["kthreadd"])
        .exe("/usr/bin/kthreadd");
    w.process(5, 1)
        .comm("worker")
        .cmdline(&["worker", "[x]"])
        .exe("/usr/bin/worker");
    w.process(6, 1)
        .comm("netns-helper")
        .cmdline(&["netns-helper"])
        .exe("/usr/bin/netns-helper");
    w.process(7, 1)
        .comm("kswapd0")
        .cmdline(&["kswapd0"])
        .exe("/usr/bin/app");
    let ck = load_w(&w);
    for pid in [2, 3, 4, 7] {
        let f = kernel_thread_name(ck.process(pid).unwrap());
        assert_eq!(tags(&f), ["kthread-name"], "{pid}");
        assert_eq!(f[0].strength, Strength::Strong);
    }
    assert!(kernel_thread_name(ck.process(1).unwrap()).is_empty());
    assert!(kernel_thread_name(ck.process(5).unwrap()).is_empty());
    assert!(kernel_thread_name(ck.process(6).unwrap()).is_empty());
}

/// A checkpoint with `--rootfs` set to a directory holding `files`.
fn with_rootfs(w: &CheckpointWriter, files: &[(&str, &[u8])]) -> (Checkpoint, tempfile::TempDir) {
    let mut ck = load_w(w);
    let dir = tempfile::tempdir().unwrap();
    for (path, bytes) in files {
        let p = dir.path().join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
    }
    crate::model::rootfs::attach(&mut ck, Some(dir.path())).unwrap();
    (ck, dir)
}

#[test]
fn exe_mismatch_strength() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(2, 1)
        .comm("redis-server")
        .cmdline(&["redis-server 0.0.0.0:6379"])
        .environ(&["PATH=/usr/bin"])
        .exe("/usr/bin/redis-check-rdb");
    w.process(3, 1)
        .comm("nginx")
        .cmdline(&["nginx: worker process"])
        .environ(&["PATH=/usr/sbin:/usr/bin"])
        .exe("/usr/bin/xmrig");
    // No file of the image in the tree: the tree cannot tell.
    let ck = load_w(&w);
    for pid in [2, 3] {
        let f = exe_mismatch(&ck, ck.process(pid).unwrap());
        assert_eq!(tags(&f), ["exe-mismatch"]);
        assert_eq!(f[0].strength, Strength::Weak, "{pid}");
    }
    // The image says: redis-server is a link to the exe (nothing to report); nginx is another
    // program than the exe (strong).
    let (mut ck, dir) = with_rootfs(
        &w,
        &[
            ("usr/bin/redis-check-rdb", b"redis"),
            ("usr/sbin/nginx", b"nginx"),
            ("usr/bin/xmrig", b"miner"),
        ],
    );
    std::os::unix::fs::symlink("redis-check-rdb", dir.path().join("usr/bin/redis-server")).unwrap();
    crate::model::rootfs::attach(&mut ck, Some(dir.path())).unwrap();
    assert!(exe_mismatch(&ck, ck.process(2).unwrap()).is_empty());
    let f = exe_mismatch(&ck, ck.process(3).unwrap());
    assert_eq!(f[0].strength, Strength::Strong, "{f:?}");
    assert!(
        f[0].what
            .ends_with("argv[0] is /usr/sbin/nginx in the container's files, another program"),
        "{f:?}"
    );
    // A memfd or deleted exe is strong whatever the files.
    let mut w2 = CheckpointWriter::new();
    base(&mut w2, 1);
    w2.process(1, 0).cmdline(&["nginx"]);
    let mut ck = load_w(&w2);
    let p = &mut ck.processes[0];
    let mut exe = (**p.exe.as_ref().unwrap()).clone();
    if let FileKind::Reg { deleted, .. } = &mut exe.kind {
        *deleted = true;
    }
    p.exe = Some(std::sync::Arc::new(exe));
    let f = exe_mismatch(&ck, &ck.processes[0]);
    assert_eq!(f[0].strength, Strength::Strong, "{f:?}");
    assert!(f[0].what.ends_with("the exe is deleted"), "{f:?}");
}

/// pid 1: `/usr/bin/app` r-x at 0x400000 (the first executable VMA: CRIU's parasite page) and
/// `/usr/lib/libc.so` r-x at 0x500000-0x503000, with dumped pages given by `pages`.
fn code_case(pages: &[(u64, Vec<u8>)]) -> CheckpointWriter {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(1, 0)
        .file_vma(0x50_0000, 0x3000, "/usr/lib/libc.so", 0x1000, 5);
    for (addr, bytes) in pages {
        w.process(1, 0).pages(*addr, bytes);
    }
    w
}

fn libc_file() -> Vec<u8> {
    (0..0x4000u32).map(|i| (i % 251) as u8).collect()
}

#[test]
fn patched_code_against_the_file() {
    let app = vec![0x90u8; 0x1000];
    let libc = libc_file();
    // Page 0x501000 = file offset 0x2000: equal. Page 0x502000 = file offset 0x3000: patched at
    // +0x10 (2 bytes) and +0x20 (1 byte).
    let equal = libc[0x2000..0x3000].to_vec();
    let mut patched = libc[0x3000..0x4000].to_vec();
    patched[0x10] ^= 0xff;
    patched[0x11] ^= 0xff;
    patched[0x20] ^= 0xff;
    let w = code_case(&[
        (0x40_0000, app.clone()),
        (0x50_1000, equal),
        (0x50_2000, patched),
    ]);
    let (ck, _dir) = with_rootfs(&w, &[("usr/bin/app", &app), ("usr/lib/libc.so", &libc)]);
    let mut files = FileCache::default();
    let f = patched_code(&ck, ck.process(1).unwrap(), &mut files);
    assert_eq!(tags(&f), ["code-patched"], "{f:?}");
    assert_eq!(f[0].at, "502000-503000");
    assert_eq!(f[0].strength, Strength::Strong);
    assert!(
        f[0].what.starts_with(
            "executable page differs from /usr/lib/libc.so at file offset 0x3000 (file from --rootfs): 3 bytes in 2 runs: +0x10 2 bytes (file offset 0x3010), +0x20 1 byte (file offset 0x3020); memory "
        ),
        "{f:?}"
    );

    // A deleted library: compared with its saved copy (`rootfs/PATH (deleted)`), never with a
    // file of the same name.
    let (mut ck, _dir) = with_rootfs(
        &w,
        &[
            ("usr/bin/app", &app),
            ("usr/lib/libc.so", &app),
            ("usr/lib/libc.so (deleted)", &libc),
        ],
    );
    for v in &mut ck.processes[0].vmas {
        if let Some(f) = &v.file
            && f.path() == Some("/usr/lib/libc.so")
        {
            let mut g = (**f).clone();
            if let FileKind::Reg { deleted, .. } = &mut g.kind {
                *deleted = true;
            }
            v.file = Some(std::sync::Arc::new(g));
        }
    }
    let f = patched_code(&ck, ck.process(1).unwrap(), &mut FileCache::default());
    assert_eq!(tags(&f), ["code-patched"], "{f:?}");
    assert!(
        f[0].what.starts_with(
            "executable page differs from /usr/lib/libc.so (deleted) at file offset 0x3000 (file from saved copy of the deleted file): 3 bytes in 2 runs"
        ),
        "{f:?}"
    );

    // Without the files: the written pages cannot be compared (weak), except the parasite's.
    let ck = load_w(&w);
    let f = patched_code(&ck, ck.process(1).unwrap(), &mut FileCache::default());
    assert_eq!(
        tags(&f),
        ["exec-page-unverified", "exec-page-unverified"],
        "{f:?}"
    );
    assert_eq!(f[0].at, "501000-502000");
    assert!(f[0].what.starts_with("dumped executable page, file not available to compare: /usr/lib/libc.so at file offset 0x2000"), "{f:?}");
    assert!(f.iter().all(|x| x.strength == Strength::Weak));

    // Nothing dumped but the parasite's page: nothing to say, with or without the files.
    let w = code_case(&[(0x40_0000, app.clone())]);
    let ck = load_w(&w);
    assert!(patched_code(&ck, ck.process(1).unwrap(), &mut FileCache::default()).is_empty());
}

#[test]
fn reverse_shell_and_c2() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(1, 0).fd(3, File::tcp_listen(4444)).fd(
        5,
        File::tcp_established([127, 0, 0, 1], 4444, [127, 0, 0, 1], 53678),
    );
    // One socket on fds 0, 1 and 2.
    let mut rs = File::tcp_established([127, 0, 0, 1], 53678, [127, 0, 0, 1], 4444);
    if let File::Inet { ino, .. } = &mut rs {
        *ino = 171036;
    }
    w.process(13, 1)
        .comm("sh")
        .cmdline(&["sh", "-i"])
        .environ(&["LD_PRELOAD=/tmp/.x/l.so"])
        .exe("/usr/bin/dash")
        .fd(0, rs.clone())
        .fd(1, rs.clone())
        .fd(2, rs);
    // A shell on pipes, with an ordinary connection: neither.
    w.process(14, 1)
        .comm("bash")
        .cmdline(&["bash"])
        .exe("/usr/bin/bash")
        .fd(0, File::pipe(7, false))
        .fd(
            3,
            File::tcp_established([10, 0, 0, 2], 40000, [10, 0, 0, 3], 5432),
        );
    let ck = load_w(&w);
    let f = all_of(&ck, 13);
    let rs: Vec<&Finding> = f.iter().filter(|x| x.tag == "reverse-shell").collect();
    assert_eq!(rs.len(), 1, "{f:?}");
    assert_eq!(rs[0].at, "127.0.0.1:53678->127.0.0.1:4444");
    assert_eq!(rs[0].strength, Strength::Strong);
    assert!(
        rs[0].what.contains("with fds 0, 1, 2 on INETSK socket:["),
        "{f:?}"
    );
    assert!(rs[0].what.ends_with("; peer PID 1 fd 5 (app)"), "{f:?}");
    let c2: Vec<&Finding> = f.iter().filter(|x| x.tag == "c2-connection").collect();
    assert_eq!(c2.len(), 1, "{f:?}");
    assert_eq!(c2[0].at, "127.0.0.1:53678->127.0.0.1:4444");
    assert!(
        c2[0]
            .what
            .contains("raised reverse-shell, ld-env; peer PID 1 fd 5 (app)"),
        "{f:?}"
    );
    // PID 1 (no other signal) and PID 14 (a shell on a pipe) have neither.
    for pid in [1, 14] {
        let f = all_of(&ck, pid);
        assert!(
            !f.iter()
                .any(|x| x.tag == "reverse-shell" || x.tag == "c2-connection"),
            "{pid}: {f:?}"
        );
    }
}

#[test]
fn ld_so_preload_in_the_files() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    let (ck, _dir) = with_rootfs(&w, &[("etc/ld.so.preload", b"# hook\n/lib/libhide.so\n")]);
    let f = findings(&ck);
    assert_eq!(tags(&f), ["ld-so-preload"], "{f:?}");
    assert_eq!(
        f[0].line(),
        "PID - /etc/ld.so.preload ld-so-preload: [strong] /etc/ld.so.preload (from --rootfs) preloads into every dynamically linked program: /lib/libhide.so"
    );
    let (ck, _dir) = with_rootfs(&w, &[("etc/ld.so.conf", b"/lib\n")]);
    assert!(findings(&ck).is_empty());
}

#[test]
fn patched_pages_are_all_compared_and_the_findings_capped() {
    let libc: Vec<u8> = (0..21 * 0x1000u32).map(|i| (i % 253) as u8).collect();
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(1, 0)
        .file_vma(0x50_0000, 21 * 0x1000, "/usr/lib/libc.so", 0, 5);
    let mut mem = libc.clone();
    for page in 0..21 {
        mem[page * 0x1000 + 8] ^= 0xff;
    }
    w.process(1, 0).pages(0x50_0000, &mem);
    let (ck, _dir) = with_rootfs(&w, &[("usr/lib/libc.so", &libc)]);
    let f = patched_code(&ck, ck.process(1).unwrap(), &mut FileCache::default());
    assert_eq!(f.len(), 16, "{f:?}");
    assert!(f.iter().all(|x| x.tag == "code-patched"));
    assert!(
        f[15]
            .what
            .ends_with(" (and 5 more such pages in this mapping)"),
        "{:?}",
        f[15]
    );
    assert!(!f[14].what.contains("more such pages"));
}

#[test]
fn patched_code_against_the_layer() {
    use crate::writer::{Compression, Layout};
    let libc = libc_file();
    let mut patched = libc[0x2000..0x3000].to_vec();
    patched[0x40] ^= 0xff;
    let mut w = code_case(&[(0x50_1000, patched)]);
    // The container's layer (rootfs-diff.tar) holds the library.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(libc.len() as u64);
    h.set_mode(0o755);
    h.set_cksum();
    b.append_data(&mut h, "usr/lib/libc.so", libc.as_slice())
        .unwrap();
    w.archive_file("rootfs-diff.tar", &b.into_inner().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("ck.tar");
    w.write_tar(&tar, &Layout::podman("layer"), Compression::None)
        .unwrap();
    let src = source::open(
        &tar,
        &OpenOptions {
            cache_dir: Some(dir.path().join("cache")),
            ..Default::default()
        },
    )
    .unwrap();
    let mut ck = load(src).unwrap();
    crate::model::rootfs::attach(&mut ck, None).unwrap();
    let f = patched_code(&ck, ck.process(1).unwrap(), &mut FileCache::default());
    assert_eq!(tags(&f), ["code-patched"], "{f:?}");
    assert!(
        f[0].what.starts_with(
            "executable page differs from /usr/lib/libc.so at file offset 0x2000 (file from the layer): 1 byte in 1 run: +0x40 1 byte (file offset 0x2040)"
        ),
        "{f:?}"
    );
}

#[test]
fn persistence_paths_and_their_strength() {
    use super::secrets::persistence_files;
    let strong = [
        "root/.ssh/authorized_keys",
        "home/bob/.ssh/authorized_keys2",
        "etc/crontab",
        "etc/cron.d/job",
        "var/spool/cron/crontabs/root",
        "etc/sudoers.d/x",
        "etc/systemd/system/multi-user.target.wants/x.service",
        "etc/rc.local",
    ];
    let weak = [
        "etc/shadow",
        "root/.bashrc",
        "home/bob/.profile",
        "etc/profile.d/x.sh",
    ];
    let none = [
        "root/.ssh/known_hosts",
        "home/.ssh/authorized_keys",
        "etc/cron.daily",
        "tmp/crontab",
        "etc/passwd-",
    ];
    // Files of the image (--rootfs) are not changes: never reported.
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    let all: Vec<(&str, &[u8])> = strong
        .iter()
        .chain(&weak)
        .chain(&none)
        .map(|p| (*p, &b"ssh-ed25519 AAAA k@host\n"[..]))
        .collect();
    let (ck, _dir) = with_rootfs(&w, &all);
    assert!(persistence_files(&ck).is_empty());
    for p in strong {
        assert_eq!(
            super::secrets::persistence_kind(p).map(|k| k.0),
            Some(Strength::Strong),
            "{p}"
        );
    }
    for p in weak {
        assert_eq!(
            super::secrets::persistence_kind(p).map(|k| k.0),
            Some(Strength::Weak),
            "{p}"
        );
    }
    for p in none {
        assert!(super::secrets::persistence_kind(p).is_none(), "{p}");
    }
}

/// `hist-tamper` from the environment: a shell's `HISTFILE=/dev/null` (at the string's address),
/// not another program's, not an ordinary HISTFILE.
#[test]
fn history_switched_off_in_a_shells_environment() {
    let mut w = CheckpointWriter::new();
    base(&mut w, 1);
    w.process(2, 1)
        .comm("bash")
        .cmdline(&["bash", "-i"])
        .environ(&["TERM=xterm", "HISTFILE=/dev/null", "HISTSIZE=0"])
        .exe("/bin/bash");
    w.process(3, 1)
        .comm("app")
        .cmdline(&["/usr/bin/app"])
        .environ(&["HISTFILE=/dev/null"])
        .exe("/usr/bin/app");
    w.process(4, 1)
        .comm("sh")
        .cmdline(&["/bin/sh"])
        .environ(&["HISTFILE=/root/.sh_history", "HISTSIZE=1000"])
        .exe("/bin/dash");
    let ck = load_w(&w);
    let p = ck.process(2).unwrap();
    let f = super::history::history_off_env(p);
    let env_start = p.mm.as_ref().unwrap().env_start;
    let lines: Vec<String> = f.iter().map(Finding::line).collect();
    assert_eq!(
        lines,
        [
            format!(
                "PID 2 {:x} hist-tamper: [weak] history switched off in environ: HISTFILE=/dev/null",
                env_start + 11
            ),
            format!(
                "PID 2 {:x} hist-tamper: [weak] history switched off in environ: HISTSIZE=0",
                env_start + 30
            ),
        ]
    );
    for pid in [1, 3, 4] {
        assert!(
            super::history::history_off_env(ck.process(pid).unwrap()).is_empty(),
            "{pid}"
        );
    }
}
