//! Socket addresses as CRIU's images store them, and the kernel's names for socket types,
//! protocols and TCP states. Families, types and protocols are `libc`'s constants; the TCP
//! states (`include/net/tcp_states.h`) are not in `libc` and are here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `TCP_ESTABLISHED`.
pub const TCP_ESTABLISHED: u32 = 1;
/// `TCP_LISTEN`.
pub const TCP_LISTEN: u32 = 10;

/// `AF_INET`, as the images store it.
pub const AF_INET: u32 = libc::AF_INET as u32;
/// `AF_INET6`.
pub const AF_INET6: u32 = libc::AF_INET6 as u32;
/// `SOCK_STREAM`.
pub const SOCK_STREAM: u32 = libc::SOCK_STREAM as u32;
/// `SOCK_DGRAM`.
pub const SOCK_DGRAM: u32 = libc::SOCK_DGRAM as u32;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: u32 = libc::IPPROTO_TCP as u32;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: u32 = libc::IPPROTO_UDP as u32;

/// An address as the image stores it: one word for IPv4, four for IPv6, each word's bytes in
/// network order as laid out in memory (little-endian words on x86). None for any other length.
pub fn ip_addr(words: &[u32]) -> Option<IpAddr> {
    match words {
        [a] => Some(IpAddr::V4(Ipv4Addr::from(a.to_le_bytes()))),
        [a, b, c, d] => {
            let mut o = [0u8; 16];
            for (i, w) in [a, b, c, d].into_iter().enumerate() {
                o[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
            }
            Some(IpAddr::V6(Ipv6Addr::from(o)))
        }
        _ => None,
    }
}

/// The address as text (`127.0.0.1`, `2001:db8::1`), `""` when it is not one.
pub fn ip_text(words: &[u32]) -> String {
    ip_addr(words).map(|a| a.to_string()).unwrap_or_default()
}

/// The address as the host part of `HOST:PORT`: IPv6 in brackets (`[::1]`), `*` when the image
/// has none, `?` when it is malformed.
pub fn ip_host(words: &[u32]) -> String {
    match ip_addr(words) {
        Some(IpAddr::V6(a)) => format!("[{a}]"),
        Some(a) => a.to_string(),
        None if words.is_empty() => "*".into(),
        None => "?".into(),
    }
}

/// The kernel's name of a TCP state (`ESTABLISHED`, `LISTEN`, ...), `""` for an unknown one.
pub fn tcp_state(s: u32) -> &'static str {
    match s {
        1 => "ESTABLISHED",
        2 => "SYN_SENT",
        3 => "SYN_RECV",
        4 => "FIN_WAIT1",
        5 => "FIN_WAIT2",
        6 => "TIME_WAIT",
        7 => "CLOSE",
        8 => "CLOSE_WAIT",
        9 => "LAST_ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        12 => "NEW_SYN_RECV",
        _ => "",
    }
}

/// An IP protocol's name as checkpointctl prints it (`TCP`, `UDP`, `ICMPV6`, ...; `PROTO<N>` for
/// others, `""` for 0).
pub fn ip_proto(p: u32) -> String {
    match i32::try_from(p).unwrap_or(-1) {
        0 => String::new(),
        libc::IPPROTO_ICMP => "ICMP".into(),
        libc::IPPROTO_IGMP => "IGMP".into(),
        libc::IPPROTO_TCP => "TCP".into(),
        libc::IPPROTO_UDP => "UDP".into(),
        libc::IPPROTO_ICMPV6 => "ICMPV6".into(),
        libc::IPPROTO_UDPLITE => "UDPLITE".into(),
        libc::IPPROTO_RAW => "RAW".into(),
        _ => format!("PROTO{p}"),
    }
}

/// A socket type's name (`STREAM`, `DGRAM`, ...), `""` for an unknown one.
pub fn sock_type(t: u32) -> &'static str {
    match i32::try_from(t).unwrap_or(-1) {
        libc::SOCK_STREAM => "STREAM",
        libc::SOCK_DGRAM => "DGRAM",
        libc::SOCK_RAW => "RAW",
        libc::SOCK_RDM => "RDM",
        libc::SOCK_SEQPACKET => "SEQPACKET",
        // SOCK_PACKET (deprecated in libc: AF_PACKET replaced it, but old images may hold it).
        10 => "PACKET",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let lo = [u32::from_le_bytes([127, 0, 0, 1])];
        assert_eq!(ip_text(&lo), "127.0.0.1");
        assert_eq!(ip_host(&lo), "127.0.0.1");
        assert_eq!(ip_text(&[0, 0, 0, 0]), "::");
        assert_eq!(ip_host(&[0, 0, 0, 0]), "[::]");
        // ::ffff:10.0.0.1 (checkpointctl would print only the last word).
        let w = [
            0,
            0,
            u32::from_le_bytes([0, 0, 0xff, 0xff]),
            u32::from_le_bytes([10, 0, 0, 1]),
        ];
        assert_eq!(ip_text(&w), "::ffff:10.0.0.1");
        let w = [
            u32::from_le_bytes([0x20, 0x01, 0x0d, 0xb8]),
            0,
            0,
            u32::from_le_bytes([0, 0, 0, 1]),
        ];
        assert_eq!(ip_text(&w), "2001:db8::1");
        assert_eq!(ip_host(&w), "[2001:db8::1]");
        assert_eq!(ip_text(&[1, 2]), "");
        assert_eq!(ip_host(&[1, 2]), "?");
        assert_eq!(ip_host(&[]), "*");
    }

    #[test]
    fn kernel_names() {
        assert_eq!(tcp_state(TCP_LISTEN), "LISTEN");
        assert_eq!(tcp_state(TCP_ESTABLISHED), "ESTABLISHED");
        assert_eq!(tcp_state(99), "");
        assert_eq!(ip_proto(6), "TCP");
        assert_eq!(ip_proto(58), "ICMPV6");
        assert_eq!(ip_proto(136), "UDPLITE");
        assert_eq!(ip_proto(0), "");
        assert_eq!(ip_proto(99), "PROTO99");
        assert_eq!(ip_proto(u32::MAX), format!("PROTO{}", u32::MAX));
        assert_eq!(sock_type(1), "STREAM");
        assert_eq!(sock_type(10), "PACKET");
        assert_eq!(sock_type(7), "");
        assert_eq!((AF_INET, AF_INET6, SOCK_STREAM, SOCK_DGRAM), (2, 10, 1, 2));
    }
}
