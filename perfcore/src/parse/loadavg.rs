//! `/proc/loadavg`: the 1, 5 and 15 minute load averages, runnable and total
//! tasks, and the last PID handed out.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::{Lines, fields, parse_f64, parse_u64, show, trim};
use crate::error::{Error, Result};

/// The file this module parses, as named in errors.
pub const FILE: &str = "/proc/loadavg";

/// Parsed `/proc/loadavg`, e.g. `0.02 0.04 0.05 1/497 11947`.
///
/// The three averages are required; the task counts and last PID are
/// `Option`s so that a truncated line (as some emulations print) still parses.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct LoadAvg {
    /// Load average over the last minute.
    pub load1: f64,
    /// Load average over the last 5 minutes.
    pub load5: f64,
    /// Load average over the last 15 minutes.
    pub load15: f64,
    /// Tasks currently runnable (the number before the `/`).
    pub runnable: Option<u64>,
    /// Tasks (processes and threads) that exist (the number after the `/`).
    pub total_tasks: Option<u64>,
    /// The PID most recently handed out.
    pub last_pid: Option<u64>,
}

/// Parses the text of `/proc/loadavg`.
///
/// The first non-blank line must start with three non-negative, finite load
/// averages; `runnable/total` and the last PID may follow, and must be
/// unsigned integers when they do. Fields after the fifth are ignored. An
/// empty input, a missing or malformed field, or a second non-blank line is
/// an error naming the line (no line for an empty input: "/proc/loadavg: empty file").
///
/// ```
/// let l = perfcore::parse::loadavg::parse(b"0.21 0.37 0.39 1/719 19737\n")?;
/// assert_eq!((l.load1, l.load5, l.load15), (0.21, 0.37, 0.39));
/// assert_eq!((l.runnable, l.total_tasks, l.last_pid), (Some(1), Some(719), Some(19737)));
/// # Ok::<(), perfcore::Error>(())
/// ```
pub fn parse(bytes: &[u8]) -> Result<LoadAvg> {
    if let Some(l) = parse_exact(bytes) {
        return Ok(l);
    }
    parse_general(bytes)
}

/// The fast path: exactly the kernel's `d.dd d.dd d.dd r/t pid\n`, in one
/// pass with no allocation; `None` for anything else (the general path then
/// parses it or names the error).
#[inline]
fn parse_exact(b: &[u8]) -> Option<LoadAvg> {
    let (load1, load5, load15, b) = match b {
        // All three below 10 (the usual case): fixed positions.
        [
            a0,
            b'.',
            a1,
            a2,
            b' ',
            c0,
            b'.',
            c1,
            c2,
            b' ',
            e0,
            b'.',
            e1,
            e2,
            b' ',
            rest @ ..,
        ] => (
            hundredths([*a0, *a1, *a2])?,
            hundredths([*c0, *c1, *c2])?,
            hundredths([*e0, *e1, *e2])?,
            rest,
        ),
        _ => {
            let (load1, b) = fixed(b)?;
            let (load5, b) = fixed(sep(b, b' ')?)?;
            let (load15, b) = fixed(sep(b, b' ')?)?;
            (load1, load5, load15, sep(b, b' ')?)
        }
    };
    let (runnable, b) = uint(b)?;
    let (total_tasks, b) = uint(sep(b, b'/')?)?;
    let (last_pid, b) = uint(sep(b, b' ')?)?;
    match b {
        b"" | b"\n" => Some(LoadAvg {
            load1,
            load5,
            load15,
            runnable: Some(runnable),
            total_tasks: Some(total_tasks),
            last_pid: Some(last_pid),
        }),
        _ => None,
    }
}

/// `d.dd` from its three digits (as [`fixed`] computes it).
#[inline(always)]
fn hundredths(d: [u8; 3]) -> Option<f64> {
    let [x, y, z] = d.map(|c| c.wrapping_sub(b'0'));
    if x > 9 || y > 9 || z > 9 {
        return None;
    }
    Some(f64::from(u32::from(x) * 100 + u32::from(y) * 10 + u32::from(z)) / 100.0)
}

/// `b` after its first byte, when that byte is `c`.
#[inline(always)]
fn sep(b: &[u8], c: u8) -> Option<&[u8]> {
    match b {
        [x, rest @ ..] if *x == c => Some(rest),
        _ => None,
    }
}

/// 1 to 19 ASCII digits (so no overflow), and what follows them.
#[inline(always)]
fn uint(b: &[u8]) -> Option<(u64, &[u8])> {
    let mut v: u64 = 0;
    let mut n = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        v = v.wrapping_mul(10).wrapping_add(u64::from(d));
        n += 1;
    }
    if n == 0 || n > 19 {
        return None;
    }
    Some((v, b.get(n..)?))
}

/// The kernel's `int.ff` (exactly two decimals, as `LOAD_FRAC` prints them)
/// with 1 to 13 integer digits (so the hundredths stay below 2^53), rounded
/// exactly as [`parse_f64`] does (one IEEE division of exact integers).
#[inline(always)]
fn fixed(b: &[u8]) -> Option<(f64, &[u8])> {
    let (int, rest) = uint(b)?;
    if b.len() - rest.len() > 13 {
        return None;
    }
    let [b'.', d1, d2, rest @ ..] = rest else {
        return None;
    };
    let (d1, d2) = (d1.wrapping_sub(b'0'), d2.wrapping_sub(b'0'));
    if d1 > 9 || d2 > 9 {
        return None;
    }
    let hundredths = int * 100 + u64::from(d1) * 10 + u64::from(d2);
    Some((hundredths as f64 / 100.0, rest))
}

fn parse_general(bytes: &[u8]) -> Result<LoadAvg> {
    let mut lines = Lines::new(bytes).filter(|(_, l)| !trim(l).is_empty());
    let Some((n, line)) = lines.next() else {
        return Err(Error::parse(FILE, 0, "empty file"));
    };
    let bad = |what: &str| Error::parse(FILE, n, format!("{what}: {:?}", show(line)));
    let mut f = fields(line);
    let mut load = |name: &str| -> Result<f64> {
        let Some(field) = f.next() else {
            return Err(bad(&format!("{name} missing")));
        };
        match parse_f64(field) {
            Some(v) if v >= 0.0 => Ok(v),
            _ => Err(bad(&format!("{name} is not a non-negative number"))),
        }
    };
    let load1 = load("load1")?;
    let load5 = load("load5")?;
    let load15 = load("load15")?;
    let (mut runnable, mut total_tasks, mut last_pid) = (None, None, None);
    if let Some(tasks) = f.next() {
        let slash = tasks.iter().position(|&c| c == b'/');
        let (r, t) = match slash {
            Some(i) => (tasks.get(..i), tasks.get(i + 1..)),
            None => (None, None),
        };
        match (r.and_then(parse_u64), t.and_then(parse_u64)) {
            (Some(r), Some(t)) => {
                runnable = Some(r);
                total_tasks = Some(t);
            }
            _ => return Err(bad("tasks are not `runnable/total`")),
        }
        if let Some(pid) = f.next() {
            last_pid = Some(parse_u64(pid).ok_or_else(|| bad("last PID is not a number"))?);
        }
    }
    if let Some((n2, extra)) = lines.next() {
        return Err(Error::parse(
            FILE,
            n2,
            format!("unexpected second line: {:?}", show(extra)),
        ));
    }
    Ok(LoadAvg {
        load1,
        load5,
        load15,
        runnable,
        total_tasks,
        last_pid,
    })
}

/// Serializes as `{"load1":..,"load5":..,"load15":..,"runnable":..,"total_tasks":..,"last_pid":..}`,
/// leaving out absent fields.
impl Serialize for LoadAvg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("load1", &self.load1)?;
        m.serialize_entry("load5", &self.load5)?;
        m.serialize_entry("load15", &self.load15)?;
        for (k, v) in [
            ("runnable", self.runnable),
            ("total_tasks", self.total_tasks),
            ("last_pid", self.last_pid),
        ] {
            if let Some(v) = v {
                m.serialize_entry(k, &v)?;
            }
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/corpus/");

    fn fixture(rel: &str) -> Vec<u8> {
        let path = format!("{CORPUS}{rel}");
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn procfs_fixture() -> &'static [u8] {
        static B: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        B.get_or_init(|| fixture("procfs/loadavg/proc/loadavg"))
    }

    #[test]
    fn full_line() {
        let l = parse(b"0.02 0.04 0.05 1/497 11947\n").unwrap();
        assert_eq!(l.load1, 0.02);
        assert_eq!(l.load5, 0.04);
        assert_eq!(l.load15, 0.05);
        assert_eq!(l.runnable, Some(1));
        assert_eq!(l.total_tasks, Some(497));
        assert_eq!(l.last_pid, Some(11947));
    }

    #[test]
    fn short_variants() {
        let l = parse(b"1.00 2.00 3.00").unwrap();
        assert_eq!((l.load1, l.load5, l.load15), (1.0, 2.0, 3.0));
        assert_eq!((l.runnable, l.total_tasks, l.last_pid), (None, None, None));
        let l = parse(b"1.00 2.00 3.00 4/5").unwrap();
        assert_eq!(
            (l.runnable, l.total_tasks, l.last_pid),
            (Some(4), Some(5), None)
        );
        let l = parse(b"\n  12.50 0 100.99 0/0 0 extra\n\n").unwrap();
        assert_eq!((l.load1, l.load5, l.load15), (12.5, 0.0, 100.99));
        assert_eq!(l.last_pid, Some(0));
    }

    #[test]
    fn loads_of_one_and_more_digits() {
        for text in [
            &b"9.99 10.00 0.01 3/4 5\n"[..],
            b"123.45 0.50 7.07 3/4 5",
            b"0.00 0.00 0.00 0/0 0",
        ] {
            let fast = parse_exact(text).unwrap();
            assert_eq!(fast, parse_general(text).unwrap());
        }
        let l = parse(b"9.99 10.00 0.01 3/4 5\n").unwrap();
        assert_eq!((l.load1, l.load5, l.load15), (9.99, 10.0, 0.01));
        // Forms the fast path leaves to the general one.
        for text in [
            &b"0.5 0.25 1 3/4 5"[..],
            b"0.02  0.04 0.05 1/497 11947",
            b"0.02 0.04 0.05 1/497 11947\r\n",
            b"0.02 0.04 0.05 1/497 11947 \n",
            b"0.02 0.04 0.05",
            b"0.02 0.04 0.05 1/497 18446744073709551615",
        ] {
            assert!(
                parse_exact(text).is_none(),
                "{:?}",
                String::from_utf8_lossy(text)
            );
            assert!(parse(text).is_ok(), "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn errors() {
        let e = parse(b"").unwrap_err();
        assert!(
            matches!(
                e,
                Error::Parse {
                    file: FILE,
                    line: 0,
                    ..
                }
            ),
            "{e}"
        );
        assert!(parse(b"\n \n").is_err());
        let e = parse(b"\n0.00 0.03").unwrap_err().to_string();
        assert!(
            e.starts_with("/proc/loadavg: line 2:") && e.contains("load15 missing"),
            "{e}"
        );
        let e = parse(b"malformed line").unwrap_err().to_string();
        assert!(e.contains("load1 is not"), "{e}");
        assert!(parse(b"-0.5 0 0").is_err());
        assert!(parse(b"0 -1 0").is_err());
        assert!(parse(b"0 0 nan").is_err());
        assert!(parse(b"inf 0 0").is_err());
        assert!(parse(b"0 0 0 1-2 3").is_err());
        assert!(parse(b"0 0 0 1/ 3").is_err());
        assert!(parse(b"0 0 0 /2 3").is_err());
        assert!(parse(b"0 0 0 1/2/3 3").is_err());
        assert!(parse(b"0 0 0 1/2 x").is_err());
        assert!(parse(b"0 0 0 1/2 -3").is_err());
        let e = parse(b"0 0 0 1/2 3\n0 0 0 1/2 3\n").unwrap_err();
        assert!(matches!(e, Error::Parse { line: 2, .. }), "{e}");
    }

    #[test]
    fn json_key_names() {
        let l = parse(b"0.21 0.37 0.39 1/719 19737\n").unwrap();
        let v = serde_json::to_value(l).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "load1": 0.21, "load5": 0.37, "load15": 0.39,
                "runnable": 1, "total_tasks": 719, "last_pid": 19737
            })
        );
        let s = serde_json::to_string(&parse(b"1 2 3").unwrap()).unwrap();
        assert_eq!(s, r#"{"load1":1.0,"load5":2.0,"load15":3.0}"#);
    }

    // ---- Corpus fixtures: literal values from each case's expected.json ----

    #[test]
    fn fixture_procfs_loadavg() {
        // procfs/loadavg/expected.json: load1 0.02, load5 0.04, load15 0.05.
        let l = parse(&fixture("procfs/loadavg/proc/loadavg")).unwrap();
        assert_eq!(l.load1, 0.02);
        assert_eq!(l.load5, 0.04);
        assert_eq!(l.load15, 0.05);
        // Transcription (not source-stated): 1/497 11947.
        assert_eq!(l.runnable, Some(1));
        assert_eq!(l.total_tasks, Some(497));
        assert_eq!(l.last_pid, Some(11947));
    }

    #[test]
    fn fixture_node_exporter_loadavg() {
        // node_exporter/loadavg/expected.json: load1 0.21, load15 0.39, load5 0.37,
        // and load1/load5/load15 = [0.21, 0.37, 0.39].
        let l = parse(&fixture("node_exporter/loadavg/proc/loadavg")).unwrap();
        assert_eq!(l.load1, 0.21);
        assert_eq!(l.load15, 0.39);
        assert_eq!(l.load5, 0.37);
        assert_eq!([l.load1, l.load5, l.load15], [0.21, 0.37, 0.39]);
        assert_eq!(l.runnable, Some(1));
        assert_eq!(l.total_tasks, Some(719));
        assert_eq!(l.last_pid, Some(19737));
    }

    #[test]
    fn fixture_procfs_inline_variants() {
        let dir = "procfs/loadavg-inline-variants/";
        // empty.txt, not-enough-fields.txt, malformed.txt: expect_error.
        for input in ["empty.txt", "not-enough-fields.txt", "malformed.txt"] {
            let r = parse(&fixture(&format!("{dir}{input}")));
            assert!(
                matches!(r, Err(Error::Parse { file: FILE, .. })),
                "{input}: {r:?}"
            );
        }
        // valid.txt: load1 0.0, load5 0.03, load15 0.05.
        let l = parse(&fixture(&format!("{dir}valid.txt"))).unwrap();
        assert_eq!(l.load1, 0.0);
        assert_eq!(l.load5, 0.03);
        assert_eq!(l.load15, 0.05);
        assert_eq!(l.runnable, Some(1));
        assert_eq!(l.total_tasks, Some(502));
        assert_eq!(l.last_pid, Some(33634));
    }

    fn mutate(base: &[u8], ops: &[(u8, usize, u8)]) -> Vec<u8> {
        let mut b = base.to_vec();
        for &(kind, pos, byte) in ops {
            match kind % 3 {
                0 if !b.is_empty() => {
                    let i = pos % b.len();
                    b[i] = byte;
                }
                1 => b.insert(pos % (b.len() + 1), byte),
                _ if !b.is_empty() => {
                    b.remove(pos % b.len());
                }
                _ => {}
            }
        }
        b
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(l) = parse(&b) {
                prop_assert!(l.load1 >= 0.0 && l.load1.is_finite());
                let _ = serde_json::to_string(&l);
            }
        }

        #[test]
        fn loadavg_like_bytes_never_panic(
            b in proptest::collection::vec(
                proptest::sample::select(b"0123456789. /\n-e".to_vec()),
                0..64,
            )
        ) {
            if let Ok(l) = parse(&b) {
                prop_assert!(l.load5 >= 0.0 && l.load15 >= 0.0);
            }
        }

        #[test]
        fn round_trips_printed_values(
            a in prop_oneof![0u32..1000, 0u32..100_000],
            b in prop_oneof![0u32..1000, 0u32..100_000],
            c in prop_oneof![0u32..1000, 0u32..100_000],
            r in any::<u64>(), t in any::<u64>(), p in any::<u64>(),
        ) {
            let text = format!(
                "{}.{:02} {}.{:02} {}.{:02} {r}/{t} {p}\n",
                a / 100, a % 100, b / 100, b % 100, c / 100, c % 100
            );
            let l = parse(text.as_bytes()).unwrap();
            // 20-digit counts are left to the general path.
            prop_assert!(parse_exact(text.as_bytes()).is_none_or(|f| f == l));
            prop_assert_eq!(Ok(l), parse_general(text.as_bytes()).map_err(|e| e.to_string()));
            prop_assert_eq!(l.load1, f64::from(a) / 100.0);
            prop_assert_eq!(l.load5, f64::from(b) / 100.0);
            prop_assert_eq!(l.load15, f64::from(c) / 100.0);
            prop_assert_eq!((l.runnable, l.total_tasks, l.last_pid), (Some(r), Some(t), Some(p)));
        }

        #[test]
        fn fast_and_general_paths_agree(
            b in proptest::collection::vec(
                proptest::sample::select(b"0123456789. /\n".to_vec()),
                0..40,
            )
        ) {
            if let Some(fast) = parse_exact(&b) {
                prop_assert_eq!(Ok(fast), parse_general(&b).map_err(|e| e.to_string()));
            }
        }

        #[test]
        fn mutated_fixture_never_panics(
            ops in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..8)
        ) {
            let b = mutate(procfs_fixture(), &ops);
            if let Ok(l) = parse(&b) {
                let _ = serde_json::to_string(&l);
            }
        }
    }
}
