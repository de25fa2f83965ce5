//! The container's network interfaces as the archive records them: Podman's `network.status`
//! and CRI-O's `io.kubernetes.cri-o.IP.N` annotations.
//!
//! `network.status` comes in two shapes:
//! - Podman 4+ (netavark, and CNI through Podman's own types): an object keyed by network name,
//!   `{"podman": {"interfaces": {"eth0": {"subnets": [{"ipnet": "10.88.0.13/16", "gateway":
//!   "10.88.0.1"}], "mac_address": "d6:cf:7b:43:b8:3d"}}}}`;
//! - Podman 3 (CNI results): an array of CNI results, `[{"cniVersion": "0.4.0", "interfaces":
//!   [{"name": "eth0", "mac": "..", "sandbox": ".."}], "ips": [{"version": "4", "interface": 0,
//!   "address": "10.88.0.2/16", "gateway": "10.88.0.1"}]}]` (only interfaces with a sandbox, i.e.
//!   inside the container, or those an IP refers to, are kept).
//!
//! Parsing is lenient: unknown keys are ignored, a missing field stays empty.

use serde::Serialize;
use serde_json::Value;

/// One address of an interface.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct NetAddress {
    /// The address with its prefix length, as recorded (`10.88.0.13/16`), or a bare address.
    pub address: String,
    pub gateway: Option<String>,
}

/// One interface of the container.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct NetInterface {
    /// The network it belongs to (`podman`), when recorded.
    pub network: Option<String>,
    /// The interface name inside the container (`eth0`), when recorded.
    pub name: Option<String>,
    pub mac: Option<String>,
    pub addresses: Vec<NetAddress>,
}

fn s(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(x) if !x.is_empty() => Some(x.clone()),
        _ => None,
    }
}

/// Parses `network.status`. An empty file or `null` gives no interfaces; text that is not JSON
/// of either shape is an error (the caller warns).
pub fn parse_network_status(bytes: &[u8]) -> Result<Vec<NetInterface>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON ({e})"))?;
    match &v {
        Value::Null => Ok(Vec::new()),
        Value::Object(nets) => {
            let mut out = Vec::new();
            for (net, block) in nets {
                let Some(Value::Object(ifaces)) = block.get("interfaces") else {
                    continue;
                };
                for (name, i) in ifaces {
                    let addresses = i
                        .get("subnets")
                        .and_then(Value::as_array)
                        .map(|subnets| {
                            subnets
                                .iter()
                                .filter_map(|sn| {
                                    Some(NetAddress {
                                        address: s(sn, "ipnet")?,
                                        gateway: s(sn, "gateway"),
                                    })
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    out.push(NetInterface {
                        network: Some(net.clone()),
                        name: Some(name.clone()),
                        mac: s(i, "mac_address"),
                        addresses,
                    });
                }
            }
            Ok(out)
        }
        Value::Array(results) => {
            let mut out = Vec::new();
            for r in results {
                let network = s(r, "name").or_else(|| s(r, "network"));
                let ifaces: Vec<&Value> = r
                    .get("interfaces")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().collect())
                    .unwrap_or_default();
                let ips: Vec<&Value> = r
                    .get("ips")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().collect())
                    .unwrap_or_default();
                let mut mine: Vec<NetInterface> = Vec::new();
                let mut index_of: Vec<Option<usize>> = Vec::new();
                for (k, i) in ifaces.iter().enumerate() {
                    let used = ips
                        .iter()
                        .any(|ip| ip.get("interface").and_then(Value::as_u64) == Some(k as u64));
                    if s(i, "sandbox").is_some() || used {
                        index_of.push(Some(mine.len()));
                        mine.push(NetInterface {
                            network: network.clone(),
                            name: s(i, "name"),
                            mac: s(i, "mac"),
                            addresses: Vec::new(),
                        });
                    } else {
                        index_of.push(None);
                    }
                }
                for ip in ips {
                    let Some(address) = s(ip, "address") else {
                        continue;
                    };
                    let a = NetAddress {
                        address,
                        gateway: s(ip, "gateway"),
                    };
                    let at = ip
                        .get("interface")
                        .and_then(Value::as_u64)
                        .and_then(|k| index_of.get(k as usize).copied().flatten());
                    match at {
                        Some(i) => mine[i].addresses.push(a),
                        None => mine.push(NetInterface {
                            network: network.clone(),
                            addresses: vec![a],
                            ..NetInterface::default()
                        }),
                    }
                }
                out.extend(mine);
            }
            Ok(out)
        }
        _ => Err("neither an object of networks nor a list of CNI results".into()),
    }
}

/// CRI-O records the pod's IPs as annotations `io.kubernetes.cri-o.IP.0`, `.IP.1`, ...: one
/// interface without name or MAC holding them, or None when there are none.
pub fn from_crio_annotations(ann: &Value) -> Option<NetInterface> {
    let mut addresses = Vec::new();
    for n in 0.. {
        match s(ann, &format!("io.kubernetes.cri-o.IP.{n}")) {
            Some(address) => addresses.push(NetAddress {
                address,
                gateway: None,
            }),
            None => break,
        }
    }
    (!addresses.is_empty()).then(|| NetInterface {
        addresses,
        ..NetInterface::default()
    })
}

/// One line per interface for text views: `eth0 (podman) 10.88.0.13/16 gw 10.88.0.1 MAC d6:..`.
pub fn describe(i: &NetInterface) -> String {
    let mut parts: Vec<String> = Vec::new();
    match (&i.name, &i.network) {
        (Some(n), Some(net)) => parts.push(format!("{n} ({net})")),
        (Some(n), None) => parts.push(n.clone()),
        (None, Some(net)) => parts.push(format!("({net})")),
        (None, None) => {}
    }
    for a in &i.addresses {
        parts.push(a.address.clone());
        if let Some(g) = &a.gateway {
            parts.push(format!("gw {g}"));
        }
    }
    if let Some(m) = &i.mac {
        parts.push(format!("MAC {m}"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman4_fixture_shape() {
        let b = br#"{
  "podman": {
    "interfaces": {
      "eth0": {
        "subnets": [ { "ipnet": "10.88.0.13/16", "gateway": "10.88.0.1" } ],
        "mac_address": "d6:cf:7b:43:b8:3d"
      }
    }
  }
}"#;
        let v = parse_network_status(b).unwrap();
        assert_eq!(
            v,
            [NetInterface {
                network: Some("podman".into()),
                name: Some("eth0".into()),
                mac: Some("d6:cf:7b:43:b8:3d".into()),
                addresses: vec![NetAddress {
                    address: "10.88.0.13/16".into(),
                    gateway: Some("10.88.0.1".into())
                }],
            }]
        );
        assert_eq!(
            describe(&v[0]),
            "eth0 (podman) 10.88.0.13/16 gw 10.88.0.1 MAC d6:cf:7b:43:b8:3d"
        );
    }

    #[test]
    fn podman4_two_networks_dual_stack() {
        let b = br#"{"a":{"interfaces":{"eth0":{"subnets":[{"ipnet":"10.1.0.2/24"},{"ipnet":"fd00::2/64","gateway":"fd00::1"}],"mac_address":"aa:bb:cc:dd:ee:ff"}}},
                     "b":{"interfaces":{"eth1":{"subnets":[]}}},"c":{}}"#;
        let v = parse_network_status(b).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].addresses.len(), 2);
        assert_eq!(v[0].addresses[0].gateway, None);
        assert_eq!(v[1].name.as_deref(), Some("eth1"));
        assert!(v[1].addresses.is_empty() && v[1].mac.is_none());
    }

    #[test]
    fn cni_results() {
        let b = br#"[{"cniVersion":"0.4.0","interfaces":[{"name":"cni-podman0","mac":"11:11:11:11:11:11"},
            {"name":"veth1","mac":"22:22:22:22:22:22"},
            {"name":"eth0","mac":"33:33:33:33:33:33","sandbox":"/run/netns/x"}],
            "ips":[{"version":"4","interface":2,"address":"10.88.0.2/16","gateway":"10.88.0.1"}],
            "dns":{}}]"#;
        let v = parse_network_status(b).unwrap();
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].name.as_deref(), Some("eth0"));
        assert_eq!(v[0].mac.as_deref(), Some("33:33:33:33:33:33"));
        assert_eq!(v[0].addresses[0].address, "10.88.0.2/16");
    }

    #[test]
    fn empty_and_garbage() {
        assert!(parse_network_status(b"").unwrap().is_empty());
        assert!(parse_network_status(b"null").unwrap().is_empty());
        assert!(parse_network_status(b"{}").unwrap().is_empty());
        assert!(parse_network_status(b"[]").unwrap().is_empty());
        assert!(parse_network_status(b"{not json").is_err());
        assert!(parse_network_status(b"42").is_err());
        // Wrong types inside are skipped, not fatal.
        assert!(
            parse_network_status(
                br#"{"x":{"interfaces":{"eth0":{"subnets":[1,{"ipnet":2}],"mac_address":7}}}}"#
            )
            .unwrap()[0]
                .addresses
                .is_empty()
        );
    }

    #[test]
    fn crio_ip_annotations() {
        let ann: Value = serde_json::json!({"io.kubernetes.cri-o.IP.0": "10.85.0.7", "io.kubernetes.cri-o.IP.1": "1100:200::7"});
        let i = from_crio_annotations(&ann).unwrap();
        assert_eq!(i.addresses.len(), 2);
        assert_eq!(describe(&i), "10.85.0.7 1100:200::7");
        assert!(from_crio_annotations(&serde_json::json!({})).is_none());
    }
}
