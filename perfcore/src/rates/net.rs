//! Network interface rates between two `/proc/net/dev` readings (sar -n DEV/EDEV).

use serde::Serialize;

use super::counter::{Width, delta};
use crate::parse::net_dev::NetDev;

/// Per-second rates of one interface over one interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct NetRates {
    /// Interface name.
    pub name: String,
    /// Whether its traffic counts toward machine totals (not loopback and not a
    /// virtual interface whose traffic also crosses a physical one).
    pub counts_toward_totals: bool,
    /// Bytes received per second.
    pub rx_bytes_per_s: f64,
    /// Bytes sent per second.
    pub tx_bytes_per_s: f64,
    /// `rxpck/s`.
    pub rx_packets_per_s: f64,
    /// `txpck/s`.
    pub tx_packets_per_s: f64,
    /// `rxerr/s`.
    pub rx_errs_per_s: f64,
    /// `txerr/s`.
    pub tx_errs_per_s: f64,
    /// `rxdrop/s`.
    pub rx_drop_per_s: f64,
    /// `txdrop/s`.
    pub tx_drop_per_s: f64,
    /// `rxfifo/s`.
    pub rx_fifo_per_s: f64,
    /// `txfifo/s`.
    pub tx_fifo_per_s: f64,
    /// `rxfram/s`.
    pub rx_frame_per_s: f64,
    /// `coll/s`.
    pub tx_colls_per_s: f64,
    /// `txcarr/s`.
    pub tx_carrier_per_s: f64,
    /// `rxcmp/s`.
    pub rx_compressed_per_s: f64,
    /// `txcmp/s`.
    pub tx_compressed_per_s: f64,
    /// `rxmcst/s`.
    pub rx_multicast_per_s: f64,
}

/// Name prefixes of virtual interfaces whose traffic is also seen on a physical
/// one (container veths and bridges, tunnels, overlay networks).
const VIRTUAL_PREFIXES: &[&str] = &[
    "lo", "veth", "docker", "br-", "virbr", "cni", "flannel", "cali", "vxlan", "tun", "tap",
    "kube-", "cilium", "lxc", "weave", "genev",
];

/// Whether an interface's traffic counts toward machine totals.
pub fn counts_toward_totals(name: &str) -> bool {
    !VIRTUAL_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Rates of one interface between two readings `elapsed_s` seconds apart.
///
/// Net counters can be 32-bit in some drivers: a small decrease is a wrap. A
/// reset (driver reloaded, interface re-created) gives `None`.
pub fn net_rates(prev: &NetDev<'_>, cur: &NetDev<'_>, elapsed_s: f64) -> Option<NetRates> {
    if elapsed_s <= 0.0 {
        return None;
    }
    let r = |p: u64, c: u64| delta(p, c, Width::MaybeU32).map(|d| d as f64 / elapsed_s);
    Some(NetRates {
        name: cur.name.to_owned(),
        counts_toward_totals: counts_toward_totals(cur.name),
        rx_bytes_per_s: r(prev.rx_bytes, cur.rx_bytes)?,
        tx_bytes_per_s: r(prev.tx_bytes, cur.tx_bytes)?,
        rx_packets_per_s: r(prev.rx_packets, cur.rx_packets)?,
        tx_packets_per_s: r(prev.tx_packets, cur.tx_packets)?,
        rx_errs_per_s: r(prev.rx_errs, cur.rx_errs)?,
        tx_errs_per_s: r(prev.tx_errs, cur.tx_errs)?,
        rx_drop_per_s: r(prev.rx_drop, cur.rx_drop)?,
        tx_drop_per_s: r(prev.tx_drop, cur.tx_drop)?,
        rx_fifo_per_s: r(prev.rx_fifo, cur.rx_fifo)?,
        tx_fifo_per_s: r(prev.tx_fifo, cur.tx_fifo)?,
        rx_frame_per_s: r(prev.rx_frame, cur.rx_frame)?,
        tx_colls_per_s: r(prev.tx_colls, cur.tx_colls)?,
        tx_carrier_per_s: r(prev.tx_carrier, cur.tx_carrier)?,
        rx_compressed_per_s: r(prev.rx_compressed, cur.rx_compressed)?,
        tx_compressed_per_s: r(prev.tx_compressed, cur.tx_compressed)?,
        rx_multicast_per_s: r(prev.rx_multicast, cur.rx_multicast)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::net_dev;

    const HDR: &str = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

    fn one(body: &str) -> Vec<NetDev<'_>> {
        net_dev::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn rates_per_second() {
        let a = format!("{HDR}  eth0: 1000 10 0 0 0 0 0 1 2000 20 0 0 0 0 0 0\n");
        let b = format!("{HDR}  eth0: 6000 60 2 4 0 0 0 3 4000 30 0 1 0 0 0 0\n");
        let (a, b) = (one(&a), one(&b));
        // Over 5 s: rx bytes Δ5000 -> 1000/s; rx packets Δ50 -> 10/s; tx bytes Δ2000 -> 400/s.
        let r = net_rates(&a[0], &b[0], 5.0).unwrap();
        assert_eq!(r.rx_bytes_per_s, 1000.0);
        assert_eq!(r.rx_packets_per_s, 10.0);
        assert_eq!(r.tx_bytes_per_s, 400.0);
        assert_eq!(r.tx_packets_per_s, 2.0);
        assert_eq!(r.rx_errs_per_s, 0.4);
        assert_eq!(r.rx_drop_per_s, 0.8);
        assert_eq!(r.tx_drop_per_s, 0.2);
        assert_eq!(r.rx_multicast_per_s, 0.4);
        assert!(r.counts_toward_totals);
    }

    #[test]
    fn wrap_of_a_32_bit_driver_counter() {
        // rx_bytes 4294967000 -> 704: Δ = 296 + 704 = 1000 in 1 s.
        let a = format!("{HDR}eth0: 4294967000 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
        let b = format!("{HDR}eth0: 704 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
        let r = net_rates(&one(&a)[0], &one(&b)[0], 1.0).unwrap();
        assert_eq!(r.rx_bytes_per_s, 1000.0);
    }

    #[test]
    fn reset_interface_gives_no_rates() {
        let a = format!("{HDR}eth0: 9000000000 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
        let b = format!("{HDR}eth0: 100 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
        assert_eq!(net_rates(&one(&a)[0], &one(&b)[0], 1.0), None);
    }

    #[test]
    fn virtual_interfaces_do_not_count() {
        assert!(!counts_toward_totals("lo"));
        assert!(!counts_toward_totals("veth4B09XN"));
        assert!(!counts_toward_totals("docker0"));
        assert!(counts_toward_totals("eth0"));
        assert!(counts_toward_totals("ens3"));
        assert!(counts_toward_totals("bond0"));
    }
}
