//! Address classification shared by every outbound HTTP client (the verifier's and the image registry
//! client's): which IP addresses a request may not reach (loopback, private, link-local, metadata, CGNAT, ULA,
//! reserved, multicast, and IPv6 forms embedding them). Pure functions; knows nothing of HTTP, providers or
//! registries.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address may not be contacted, or `None` when it is a public unicast address.
pub fn forbidden_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    let n = u32::from(ip);
    let within = |base: [u8; 4], bits: u32| {
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        n & mask == u32::from(Ipv4Addr::from(base)) & mask
    };
    Some(match () {
        _ if o[0] == 0 => "unspecified/this-network",
        _ if o[0] == 127 => "loopback",
        _ if o[0] == 10 || within([172, 16, 0, 0], 12) || within([192, 168, 0, 0], 16) => "private",
        _ if within([169, 254, 169, 254], 32) || within([100, 100, 100, 200], 32) => "metadata",
        _ if within([169, 254, 0, 0], 16) => "link-local",
        _ if within([100, 64, 0, 0], 10) => "carrier-grade NAT",
        _ if within([192, 0, 0, 0], 24) || within([192, 88, 99, 0], 24) => "IETF special-purpose",
        _ if within([192, 0, 2, 0], 24)
            || within([198, 51, 100, 0], 24)
            || within([203, 0, 113, 0], 24) =>
        {
            "documentation"
        }
        _ if within([198, 18, 0, 0], 15) => "benchmarking",
        _ if o[0] >= 224 && o[0] < 240 => "multicast",
        _ if o[0] >= 240 => "reserved/broadcast",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // IPv4-mapped, IPv4-compatible, NAT64 and 6to4 addresses carry an IPv4 address: judge that.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4).or(Some("IPv4-mapped"));
    }
    if s[0..6] == [0, 0, 0, 0, 0, 0] {
        return Some("IPv4-compatible");
    }
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[0] == 0x64 && s[1] == 0xff9b {
        return forbidden_v4(embedded(s[6], s[7])).or(Some("NAT64"));
    }
    if s[0] == 0x2002 {
        return forbidden_v4(embedded(s[1], s[2])).or(Some("6to4"));
    }
    Some(match () {
        _ if s[0] & 0xfe00 == 0xfc00 => "unique-local (ULA)",
        _ if s[0] & 0xffc0 == 0xfe80 => "link-local",
        _ if s[0] & 0xffc0 == 0xfec0 => "site-local",
        _ if s[0] & 0xff00 == 0xff00 => "multicast",
        _ if s[0] == 0x2001 && s[1] == 0x0db8 => "documentation",
        _ if s[0] == 0x2001 && s[1] == 0 => "Teredo",
        _ if s[0] == 0x0100 && s[1..4] == [0, 0, 0] => "discard-only",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_addresses() {
        for a in [
            "127.0.0.1",
            "127.9.9.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.10",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:a00:1::",
            "2001:db8::1",
        ] {
            let ip: IpAddr = a.parse().unwrap();
            assert!(forbidden_ip(ip).is_some(), "{a} must be forbidden");
        }
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
        ] {
            let ip: IpAddr = a.parse().unwrap();
            assert_eq!(forbidden_ip(ip), None, "{a} is public");
        }
    }
}
