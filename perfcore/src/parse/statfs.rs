//! Filesystem usage of mounts: the `statfs[*]` measurement of a capture.
//!
//! The older collector recorded `statvfs(2)` of each real mount as NDJSON, one
//! object per mount: `{"mount_point","block_size","blocks_total","blocks_free",
//! "blocks_available"}`. The live reader produces the same text, adding
//! `files_total` and `files_free` (inodes), which older readers ignore.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::Lines;
use crate::error::{Error, Result};
use crate::gofmt::push_json_string;

/// The measurement name used in errors and captures.
pub const FILE: &str = "statfs[*]";

/// `statvfs` of one mount, in blocks of `block_size` bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FsStat<'a> {
    /// Where the filesystem is mounted.
    #[serde(borrow)]
    pub mount_point: Cow<'a, str>,
    /// Fragment size in bytes (`f_frsize`): the unit of the block counts.
    pub block_size: u64,
    /// Size of the filesystem in blocks.
    pub blocks_total: u64,
    /// Free blocks (including those reserved for root).
    pub blocks_free: u64,
    /// Blocks available to unprivileged users.
    pub blocks_available: u64,
    /// Inodes in total (not recorded by the older collector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_total: Option<u64>,
    /// Free inodes (not recorded by the older collector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_free: Option<u64>,
}

impl FsStat<'_> {
    /// Size in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.blocks_total.saturating_mul(self.block_size)
    }

    /// Bytes available to unprivileged users.
    pub fn available_bytes(&self) -> u64 {
        self.blocks_available.saturating_mul(self.block_size)
    }

    /// Bytes in use (`total − free`).
    pub fn used_bytes(&self) -> u64 {
        self.blocks_total
            .saturating_sub(self.blocks_free)
            .saturating_mul(self.block_size)
    }

    /// df's `Use%` as the older tool computed it: `round(100 × (total − avail) / total)`;
    /// `None` for a filesystem of size 0.
    pub fn use_pct_rounded(&self) -> Option<u64> {
        if self.blocks_total == 0 {
            return None;
        }
        let used = self.blocks_total.saturating_sub(self.blocks_available) as f64;
        Some((100.0 * used / self.blocks_total as f64).round() as u64)
    }

    /// Percent in use as df prints it: `used / (used + avail) × 100` (the root reserve is
    /// not counted as space a user could have).
    pub fn use_pct(&self) -> Option<f64> {
        let used = self.blocks_total.saturating_sub(self.blocks_free) as f64;
        let denom = used + self.blocks_available as f64;
        (denom > 0.0).then(|| used / denom * 100.0)
    }

    /// An owned copy.
    pub fn into_owned(self) -> FsStat<'static> {
        FsStat {
            mount_point: Cow::Owned(self.mount_point.into_owned()),
            ..self
        }
    }

    /// Appends this mount as one NDJSON line, keys in the older collector's order.
    pub fn write_ndjson(&self, out: &mut String) {
        use std::fmt::Write as _;
        out.push_str("{\"mount_point\":");
        push_json_string(out, self.mount_point.as_bytes());
        let _ = write!(
            out,
            ",\"block_size\":{},\"blocks_total\":{},\"blocks_free\":{},\"blocks_available\":{}",
            self.block_size, self.blocks_total, self.blocks_free, self.blocks_available
        );
        if let Some(v) = self.files_total {
            let _ = write!(out, ",\"files_total\":{v}");
        }
        if let Some(v) = self.files_free {
            let _ = write!(out, ",\"files_free\":{v}");
        }
        out.push_str("}\n");
    }
}

/// Parses a `statfs[*]` measurement: one JSON object per line, blank lines skipped.
pub fn parse(bytes: &[u8]) -> Result<Vec<FsStat<'_>>> {
    let mut out = Vec::new();
    parse_into(bytes, &mut out)?;
    Ok(out)
}

/// Like [`parse`], but fills `out` (cleared first) so that its allocation is
/// reused. On error `out` holds the mounts before the bad line.
pub fn parse_into<'a>(bytes: &'a [u8], out: &mut Vec<FsStat<'a>>) -> Result<()> {
    out.clear();
    for (n, line) in Lines::new(bytes) {
        if super::trim(line).is_empty() {
            continue;
        }
        let fs: FsStat<'_> = serde_json::from_slice(line)
            .map_err(|e| Error::parse(FILE, n, format!("bad mount record: {e}")))?;
        out.push(fs);
    }
    Ok(())
}

/// Writes mounts as the NDJSON text of a `statfs[*]` measurement.
pub fn write(mounts: &[FsStat<'_>]) -> String {
    let mut s = String::with_capacity(mounts.len() * 128);
    for m in mounts {
        m.write_ndjson(&mut s);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const PCC: &str = "{\"mount_point\":\"/\",\"block_size\":4096,\"blocks_total\":7574544,\"blocks_free\":6704994,\"blocks_available\":6700898}\n{\"mount_point\":\"/boot/efi\",\"block_size\":512,\"blocks_total\":213663,\"blocks_free\":201276,\"blocks_available\":201276}\n";

    #[test]
    fn parses_and_rewrites_pcc_text_byte_for_byte() {
        let v = parse(PCC.as_bytes()).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].mount_point, "/");
        assert_eq!(v[0].blocks_total, 7574544);
        assert_eq!(v[1].block_size, 512);
        assert_eq!(v[1].files_total, None);
        assert_eq!(write(&v), PCC);
    }

    #[test]
    fn use_percent_as_the_older_tool() {
        let v = parse(PCC.as_bytes()).unwrap();
        // round(100 * (7574544 - 6700898) / 7574544) = round(11.53...) = 12
        assert_eq!(v[0].use_pct_rounded(), Some(12));
        assert_eq!(v[0].size_bytes(), 7574544 * 4096);
    }

    #[test]
    fn escaped_mount_points() {
        let text = b"{\"mount_point\":\"/mnt/a\\u0026b\",\"block_size\":1,\"blocks_total\":0,\"blocks_free\":0,\"blocks_available\":0}\n";
        let v = parse(text).unwrap();
        assert_eq!(v[0].mount_point, "/mnt/a&b");
        assert_eq!(v[0].use_pct_rounded(), None);
        assert_eq!(write(&v).as_bytes(), text);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse(b"\n{\"mount_point\":1}\n").unwrap_err().to_string();
        assert!(e.starts_with("statfs[*]: line 2:"), "{e}");
        assert!(parse(b"garbage").is_err());
    }
}
