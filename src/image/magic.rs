//! CRIU image magic numbers (from CRIU's `criu/include/magic.h`) and the table from image
//! file names to the magic their header must carry.
//!
//! Every protobuf image starts with [`IMG_COMMON_MAGIC`] then its own magic; `inventory.img`
//! starts with [`INVENTORY`] alone; the service files `stats-dump`, `stats-restore` and
//! `irmap-cache` start with [`IMG_SERVICE_MAGIC`] then their own magic. Raw images
//! (`pages-*.img`, tarballs, `ip` tool dumps) carry no header: [`magic_for`] gives `None`
//! for them, as for any file it does not know.

/// Lead magic of every ordinary image ("Sarov").
pub const IMG_COMMON_MAGIC: u32 = 0x5456_4319;
/// Lead magic of service files: stats, irmap cache ("Zlatoust").
pub const IMG_SERVICE_MAGIC: u32 = 0x5510_5940;

/// `inventory.img` (no lead magic: this is its first word).
pub const INVENTORY: u32 = 0x5831_3116;
/// `pstree.img`.
pub const PSTREE: u32 = 0x5027_3030;
/// `fdinfo-<files_id>.img`.
pub const FDINFO: u32 = 0x5621_3732;
/// `pagemap-<pid>.img`, and also `pagemap-shmem-<shmid>.img` (CRIU's `SHMEM_PAGEMAP_MAGIC`).
pub const PAGEMAP: u32 = 0x5608_4025;
/// `core-<tid>.img`.
pub const CORE: u32 = 0x5505_3847;
/// `ids-<pid>.img`.
pub const IDS: u32 = 0x5443_2030;
/// `vmas-<pid>.img` (very old images).
pub const VMAS: u32 = 0x5412_3737;
/// `pipes.img` (old images; now in `files.img`).
pub const PIPES: u32 = 0x5651_3555;
/// `pipes-data.img`: entries followed by the pipe's buffered data.
pub const PIPES_DATA: u32 = 0x5645_3709;
/// `fifo.img` (old images).
pub const FIFO: u32 = 0x5836_4939;
/// `fifo-data.img`: entries followed by the fifo's buffered data.
pub const FIFO_DATA: u32 = 0x5933_3054;
/// `sigacts-<pid>.img` (old images; now in the core).
pub const SIGACT: u32 = 0x5534_4201;
/// `unixsk.img` (old images).
pub const UNIXSK: u32 = 0x5437_3943;
/// `inetsk.img` (old images).
pub const INETSK: u32 = 0x5644_3851;
/// `packetsk.img`.
pub const PACKETSK: u32 = 0x6045_4618;
/// `itimers-<pid>.img` (old images).
pub const ITIMERS: u32 = 0x5746_4056;
/// `posix-timers-<pid>.img` (old images).
pub const POSIX_TIMERS: u32 = 0x5260_3957;
/// `sk-queues.img`: socket queue entries followed by their data.
pub const SK_QUEUES: u32 = 0x5626_4026;
/// `utsns-<id>.img`.
pub const UTSNS: u32 = 0x5447_3203;
/// `creds-<pid>.img` (old images; now in the core).
pub const CREDS: u32 = 0x5402_3547;
/// `ipcns-var-<id>.img`.
pub const IPC_VAR: u32 = 0x5311_5007;
/// `ipcns-shm-<id>.img`.
pub const IPCNS_SHM: u32 = 0x4628_3044;
/// `ipcns-msg-<id>.img`.
pub const IPCNS_MSG: u32 = 0x5545_3737;
/// `ipcns-sem-<id>.img`.
pub const IPCNS_SEM: u32 = 0x5957_3019;
/// `reg-files.img` (old images; now in `files.img`).
pub const REG_FILES: u32 = 0x5036_3636;
/// `ext-files.img` (old images).
pub const EXT_FILES: u32 = 0x5925_5641;
/// `fs-<pid>.img`.
pub const FS: u32 = 0x5140_3912;
/// `mm-<pid>.img`.
pub const MM: u32 = 0x5749_2820;
/// `remap-fpath.img`.
pub const REMAP_FPATH: u32 = 0x5913_3954;
/// `ghost-file-<id>.img`: an entry followed by the file's content.
pub const GHOST_FILE: u32 = 0x5258_3605;
/// `tcp-stream-<ino>.img`: an entry followed by the socket's queues.
pub const TCP_STREAM: u32 = 0x5146_5506;
/// `eventfd.img` (old images).
pub const EVENTFD_FILE: u32 = 0x4452_3722;
/// `eventpoll.img` (old images).
pub const EVENTPOLL_FILE: u32 = 0x4502_3858;
/// `eventpoll-tfd.img` (old images).
pub const EVENTPOLL_TFD: u32 = 0x4443_3746;
/// `signalfd.img` (old images).
pub const SIGNALFD: u32 = 0x5732_3820;
/// `inotify.img`.
pub const INOTIFY_FILE: u32 = 0x4842_4431;
/// `inotify-wd.img`.
pub const INOTIFY_WD: u32 = 0x5456_2009;
/// `mountpoints-<id>.img`.
pub const MNTS: u32 = 0x5556_3928;
/// `netdev-<id>.img`.
pub const NETDEV: u32 = 0x5737_3951;
/// `netns-<id>.img`.
pub const NETNS: u32 = 0x5593_3752;
/// `tty.img`.
pub const TTY_FILES: u32 = 0x5943_3025;
/// `tty-info.img`.
pub const TTY_INFO: u32 = 0x5945_3036;
/// `tty-data.img`.
pub const TTY_DATA: u32 = 0x5941_3026;
/// `file-locks.img`.
pub const FILE_LOCKS: u32 = 0x5432_3616;
/// `rlimit-<pid>.img` (old images; now in the core).
pub const RLIMIT: u32 = 0x5711_3925;
/// `fanotify.img`.
pub const FANOTIFY_FILE: u32 = 0x5509_6122;
/// `fanotify-mark.img`.
pub const FANOTIFY_MARK: u32 = 0x5650_6035;
/// `signal-s-<pid>.img` and `signal-p-<tid>.img` (shared and private pending signals).
pub const SIGNAL: u32 = 0x5925_5647;
/// `netlinksk.img`.
pub const NETLINK_SK: u32 = 0x5800_5614;
/// `ns-files.img`.
pub const NS_FILES: u32 = 0x6139_4011;
/// `tunfile.img`.
pub const TUNFILE: u32 = 0x5714_3751;
/// `cgroup.img`.
pub const CGROUP: u32 = 0x5938_3330;
/// `timerfd.img` (old images).
pub const TIMERFD: u32 = 0x5049_3712;
/// `cpuinfo.img`.
pub const CPUINFO: u32 = 0x6140_4013;
/// `userns-<id>.img`.
pub const USERNS: u32 = 0x5547_4906;
/// `seccomp.img`.
pub const SECCOMP: u32 = 0x6441_3049;
/// `binfmt-misc.img` (and the older `binfmt-misc-<id>.img`).
pub const BINFMT_MISC: u32 = 0x6734_3323;
/// `autofs-<id>.img`.
pub const AUTOFS: u32 = 0x4935_3943;
/// `files.img`.
pub const FILES: u32 = 0x5630_3138;
/// `memfd.img`: memfd (and anonymous shared memory) inodes.
pub const MEMFD_INODE: u32 = 0x4845_3499;
/// `timens-<id>.img`.
pub const TIMENS: u32 = 0x4311_4433;
/// `pidns-<id>.img`.
pub const PIDNS: u32 = 0x6115_7326;
/// `bpfmap-file.img`.
pub const BPFMAP_FILE: u32 = 0x5750_6142;
/// `bpfmap-data.img`.
pub const BPFMAP_DATA: u32 = 0x6432_4033;
/// `apparmor.img`.
pub const APPARMOR: u32 = 0x5942_3047;
/// `stats-dump` and `stats-restore` (service file: lead magic [`IMG_SERVICE_MAGIC`]).
pub const STATS: u32 = 0x5709_3306;
/// `irmap-cache` (service file: lead magic [`IMG_SERVICE_MAGIC`]).
pub const IRMAP_CACHE: u32 = 0x5700_4059;

/// How an image's header looks, chosen by its per-image magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// `IMG_COMMON_MAGIC`, then the image's magic (8 bytes).
    Common,
    /// `IMG_SERVICE_MAGIC`, then the image's magic (8 bytes): stats, irmap cache.
    Service,
    /// The image's magic alone (4 bytes): `inventory.img`.
    Bare,
}

impl Header {
    /// The header kind an image with per-image magic `magic` has.
    pub fn for_magic(magic: u32) -> Header {
        match magic {
            INVENTORY => Header::Bare,
            STATS | IRMAP_CACHE => Header::Service,
            _ => Header::Common,
        }
    }

    /// The header's length in bytes.
    pub fn size(self) -> usize {
        match self {
            Header::Bare => 4,
            Header::Common | Header::Service => 8,
        }
    }
}

/// How a name pattern's variable part may look.
#[derive(Clone, Copy)]
enum Id {
    /// No variable part: the whole name is fixed.
    None,
    /// One or more hex digits (CRIU writes ids with `%u`, `%lu` or `%x`).
    Hex,
}

/// (prefix, id, suffix, magic). A `None` magic marks a known raw file: listed so that a
/// broader pattern cannot claim it.
const TABLE: &[(&str, Id, &str, Option<u32>)] = &[
    ("inventory.img", Id::None, "", Some(INVENTORY)),
    ("pstree.img", Id::None, "", Some(PSTREE)),
    ("files.img", Id::None, "", Some(FILES)),
    ("memfd.img", Id::None, "", Some(MEMFD_INODE)),
    ("pipes-data.img", Id::None, "", Some(PIPES_DATA)),
    ("fifo-data.img", Id::None, "", Some(FIFO_DATA)),
    ("seccomp.img", Id::None, "", Some(SECCOMP)),
    ("cgroup.img", Id::None, "", Some(CGROUP)),
    ("sk-queues.img", Id::None, "", Some(SK_QUEUES)),
    ("tty.img", Id::None, "", Some(TTY_FILES)),
    ("tty-info.img", Id::None, "", Some(TTY_INFO)),
    ("tty-data.img", Id::None, "", Some(TTY_DATA)),
    ("file-locks.img", Id::None, "", Some(FILE_LOCKS)),
    ("remap-fpath.img", Id::None, "", Some(REMAP_FPATH)),
    ("reg-files.img", Id::None, "", Some(REG_FILES)),
    ("ext-files.img", Id::None, "", Some(EXT_FILES)),
    ("ns-files.img", Id::None, "", Some(NS_FILES)),
    ("pipes.img", Id::None, "", Some(PIPES)),
    ("fifo.img", Id::None, "", Some(FIFO)),
    ("unixsk.img", Id::None, "", Some(UNIXSK)),
    ("inetsk.img", Id::None, "", Some(INETSK)),
    ("packetsk.img", Id::None, "", Some(PACKETSK)),
    ("netlinksk.img", Id::None, "", Some(NETLINK_SK)),
    ("eventfd.img", Id::None, "", Some(EVENTFD_FILE)),
    ("eventpoll.img", Id::None, "", Some(EVENTPOLL_FILE)),
    ("eventpoll-tfd.img", Id::None, "", Some(EVENTPOLL_TFD)),
    ("signalfd.img", Id::None, "", Some(SIGNALFD)),
    ("timerfd.img", Id::None, "", Some(TIMERFD)),
    ("inotify.img", Id::None, "", Some(INOTIFY_FILE)),
    ("inotify-wd.img", Id::None, "", Some(INOTIFY_WD)),
    ("fanotify.img", Id::None, "", Some(FANOTIFY_FILE)),
    ("fanotify-mark.img", Id::None, "", Some(FANOTIFY_MARK)),
    ("tunfile.img", Id::None, "", Some(TUNFILE)),
    ("cpuinfo.img", Id::None, "", Some(CPUINFO)),
    ("binfmt-misc.img", Id::None, "", Some(BINFMT_MISC)),
    ("bpfmap-file.img", Id::None, "", Some(BPFMAP_FILE)),
    ("bpfmap-data.img", Id::None, "", Some(BPFMAP_DATA)),
    ("apparmor.img", Id::None, "", Some(APPARMOR)),
    ("stats-dump", Id::None, "", Some(STATS)),
    ("stats-restore", Id::None, "", Some(STATS)),
    ("irmap-cache", Id::None, "", Some(IRMAP_CACHE)),
    ("core-", Id::Hex, ".img", Some(CORE)),
    ("ids-", Id::Hex, ".img", Some(IDS)),
    ("mm-", Id::Hex, ".img", Some(MM)),
    ("vmas-", Id::Hex, ".img", Some(VMAS)),
    ("pagemap-shmem-", Id::Hex, ".img", Some(PAGEMAP)),
    ("pagemap-", Id::Hex, ".img", Some(PAGEMAP)),
    ("pages-", Id::Hex, ".img", None),
    ("fdinfo-", Id::Hex, ".img", Some(FDINFO)),
    ("fs-", Id::Hex, ".img", Some(FS)),
    ("creds-", Id::Hex, ".img", Some(CREDS)),
    ("sigacts-", Id::Hex, ".img", Some(SIGACT)),
    ("rlimit-", Id::Hex, ".img", Some(RLIMIT)),
    ("itimers-", Id::Hex, ".img", Some(ITIMERS)),
    ("posix-timers-", Id::Hex, ".img", Some(POSIX_TIMERS)),
    ("signal-s-", Id::Hex, ".img", Some(SIGNAL)),
    ("signal-p-", Id::Hex, ".img", Some(SIGNAL)),
    ("mountpoints-", Id::Hex, ".img", Some(MNTS)),
    ("ghost-file-", Id::Hex, ".img", Some(GHOST_FILE)),
    ("tcp-stream-", Id::Hex, ".img", Some(TCP_STREAM)),
    ("utsns-", Id::Hex, ".img", Some(UTSNS)),
    ("ipcns-var-", Id::Hex, ".img", Some(IPC_VAR)),
    ("ipcns-shm-", Id::Hex, ".img", Some(IPCNS_SHM)),
    ("ipcns-msg-", Id::Hex, ".img", Some(IPCNS_MSG)),
    ("ipcns-sem-", Id::Hex, ".img", Some(IPCNS_SEM)),
    ("netdev-", Id::Hex, ".img", Some(NETDEV)),
    ("netns-", Id::Hex, ".img", Some(NETNS)),
    ("userns-", Id::Hex, ".img", Some(USERNS)),
    ("timens-", Id::Hex, ".img", Some(TIMENS)),
    ("pidns-", Id::Hex, ".img", Some(PIDNS)),
    ("autofs-", Id::Hex, ".img", Some(AUTOFS)),
    ("binfmt-misc-", Id::Hex, ".img", Some(BINFMT_MISC)),
];

/// The per-image magic an image file named `file_name` must carry (e.g. `core-8259.img` →
/// [`CORE`], `stats-dump` → [`STATS`]), or `None` for raw files (`pages-*.img`, tarballs,
/// `ip` tool dumps) and anything unknown (`dump.log`, `parent`, `descriptors.json`, ...).
///
/// Only the last path component is looked at, so `checkpoint/core-1.img` works too.
pub fn magic_for(file_name: &str) -> Option<u32> {
    let name = file_name.rsplit('/').next().unwrap_or(file_name);
    for &(prefix, id, suffix, magic) in TABLE {
        let matched = match id {
            Id::None => name == prefix,
            Id::Hex => name
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(suffix))
                .is_some_and(|mid| !mid.is_empty() && mid.bytes().all(|b| b.is_ascii_hexdigit())),
        };
        if matched {
            return magic;
        }
    }
    None
}

/// CRIU's name for a magic number, for messages (`0x55053847` → `"CORE"`).
pub fn name(magic: u32) -> Option<&'static str> {
    Some(match magic {
        IMG_COMMON_MAGIC => "IMG_COMMON",
        IMG_SERVICE_MAGIC => "IMG_SERVICE",
        INVENTORY => "INVENTORY",
        PSTREE => "PSTREE",
        FDINFO => "FDINFO",
        PAGEMAP => "PAGEMAP",
        CORE => "CORE",
        IDS => "IDS",
        VMAS => "VMAS",
        PIPES => "PIPES",
        PIPES_DATA => "PIPES_DATA",
        FIFO => "FIFO",
        FIFO_DATA => "FIFO_DATA",
        SIGACT => "SIGACT",
        UNIXSK => "UNIXSK",
        INETSK => "INETSK",
        PACKETSK => "PACKETSK",
        ITIMERS => "ITIMERS",
        POSIX_TIMERS => "POSIX_TIMERS",
        SK_QUEUES => "SK_QUEUES",
        UTSNS => "UTSNS",
        CREDS => "CREDS",
        IPC_VAR => "IPC_VAR",
        IPCNS_SHM => "IPCNS_SHM",
        IPCNS_MSG => "IPCNS_MSG",
        IPCNS_SEM => "IPCNS_SEM",
        REG_FILES => "REG_FILES",
        EXT_FILES => "EXT_FILES",
        FS => "FS",
        MM => "MM",
        REMAP_FPATH => "REMAP_FPATH",
        GHOST_FILE => "GHOST_FILE",
        TCP_STREAM => "TCP_STREAM",
        EVENTFD_FILE => "EVENTFD_FILE",
        EVENTPOLL_FILE => "EVENTPOLL_FILE",
        EVENTPOLL_TFD => "EVENTPOLL_TFD",
        SIGNALFD => "SIGNALFD",
        INOTIFY_FILE => "INOTIFY_FILE",
        INOTIFY_WD => "INOTIFY_WD",
        MNTS => "MNTS",
        NETDEV => "NETDEV",
        NETNS => "NETNS",
        TTY_FILES => "TTY_FILES",
        TTY_INFO => "TTY_INFO",
        TTY_DATA => "TTY_DATA",
        FILE_LOCKS => "FILE_LOCKS",
        RLIMIT => "RLIMIT",
        FANOTIFY_FILE => "FANOTIFY_FILE",
        FANOTIFY_MARK => "FANOTIFY_MARK",
        SIGNAL => "SIGNAL",
        NETLINK_SK => "NETLINK_SK",
        NS_FILES => "NS_FILES",
        TUNFILE => "TUNFILE",
        CGROUP => "CGROUP",
        TIMERFD => "TIMERFD",
        CPUINFO => "CPUINFO",
        USERNS => "USERNS",
        SECCOMP => "SECCOMP",
        BINFMT_MISC => "BINFMT_MISC",
        AUTOFS => "AUTOFS",
        FILES => "FILES",
        MEMFD_INODE => "MEMFD_INODE",
        TIMENS => "TIMENS",
        PIDNS => "PIDNS",
        BPFMAP_FILE => "BPFMAP_FILE",
        BPFMAP_DATA => "BPFMAP_DATA",
        APPARMOR => "APPARMOR",
        STATS => "STATS",
        IRMAP_CACHE => "IRMAP_CACHE",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_magics() {
        assert_eq!(magic_for("core-8259.img"), Some(CORE));
        assert_eq!(magic_for("checkpoint/core-1.img"), Some(CORE));
        assert_eq!(magic_for("mm-8259.img"), Some(MM));
        assert_eq!(magic_for("pagemap-8259.img"), Some(PAGEMAP));
        assert_eq!(magic_for("pagemap-shmem-109.img"), Some(PAGEMAP));
        assert_eq!(magic_for("inventory.img"), Some(INVENTORY));
        assert_eq!(magic_for("stats-dump"), Some(STATS));
        assert_eq!(magic_for("irmap-cache"), Some(IRMAP_CACHE));
        assert_eq!(magic_for("memfd.img"), Some(MEMFD_INODE));
        assert_eq!(magic_for("pipes-data.img"), Some(PIPES_DATA));
        assert_eq!(magic_for("tcp-stream-1417b.img"), Some(TCP_STREAM));
        assert_eq!(magic_for("ghost-file-2a.img"), Some(GHOST_FILE));
        assert_eq!(magic_for("mountpoints-13.img"), Some(MNTS));
        assert_eq!(magic_for("netns-10.img"), Some(NETNS));
        assert_eq!(magic_for("fdinfo-2.img"), Some(FDINFO));
        assert_eq!(magic_for("timens-0.img"), Some(TIMENS));
        // raw or unknown
        assert_eq!(magic_for("pages-1.img"), None);
        assert_eq!(magic_for("tmpfs-dev-44.tar.gz.img"), None);
        assert_eq!(magic_for("netns-ct-10.img"), None);
        assert_eq!(magic_for("ifaddr-10.img"), None);
        assert_eq!(magic_for("dump.log"), None);
        assert_eq!(magic_for("parent"), None);
        assert_eq!(magic_for("core-.img"), None);
        assert_eq!(magic_for("core-12x.img"), None);
        assert_eq!(magic_for("core-1.img.bak"), None);
        assert_eq!(magic_for(""), None);
    }

    #[test]
    fn header_kinds() {
        assert_eq!(Header::for_magic(INVENTORY), Header::Bare);
        assert_eq!(Header::for_magic(STATS), Header::Service);
        assert_eq!(Header::for_magic(IRMAP_CACHE), Header::Service);
        assert_eq!(Header::for_magic(CORE), Header::Common);
        assert_eq!(Header::Bare.size(), 4);
        assert_eq!(Header::Common.size(), 8);
    }

    #[test]
    fn every_table_magic_has_a_name() {
        for &(prefix, _, _, magic) in TABLE {
            if let Some(m) = magic {
                assert!(name(m).is_some(), "{prefix}");
            }
        }
    }
}
