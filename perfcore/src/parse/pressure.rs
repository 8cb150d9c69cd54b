//! `/proc/pressure/{cpu,io,memory,irq}`: pressure stall information (PSI,
//! since Linux 4.20), the share of time tasks stalled on a resource.
//!
//! Each file has a `some` line (at least one task stalled) and a `full` line
//! (all non-idle tasks stalled): `some avg10=0.10 avg60=2.00 avg300=3.85 total=15`.
//! The cpu file has only `some` before Linux 5.13, and the irq file (since
//! Linux 6.1, with `CONFIG_IRQ_TIME_ACCOUNTING`) has only `full`.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::{Lines, fields, parse_f64, parse_u64, show};
use crate::error::{Error, Result};

/// A resource with a pressure file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// `/proc/pressure/cpu` (`full` since Linux 5.13).
    Cpu,
    /// `/proc/pressure/io`.
    Io,
    /// `/proc/pressure/memory`.
    Memory,
    /// `/proc/pressure/irq` (since Linux 6.1; `full` only).
    Irq,
}

impl Resource {
    /// Every resource, in the order of [`PressureAll`]'s fields.
    pub const ALL: [Resource; 4] = [Resource::Cpu, Resource::Io, Resource::Memory, Resource::Irq];

    /// The file this resource's pressure is read from, as named in errors.
    pub fn file(self) -> &'static str {
        match self {
            Resource::Cpu => "/proc/pressure/cpu",
            Resource::Io => "/proc/pressure/io",
            Resource::Memory => "/proc/pressure/memory",
            Resource::Irq => "/proc/pressure/irq",
        }
    }

    /// The resource's name as the kernel spells it: `cpu`, `io`, `memory`, `irq`.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Cpu => "cpu",
            Resource::Io => "io",
            Resource::Memory => "memory",
            Resource::Irq => "irq",
        }
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Every resource, in the order of [`PressureAll`]'s fields (same as [`Resource::ALL`]).
pub const ALL: [Resource; 4] = Resource::ALL;

/// One `some` or `full` line.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct PsiLine {
    /// Percentage of time stalled, averaged over the last 10 seconds.
    pub avg10: f64,
    /// Percentage of time stalled, averaged over the last 60 seconds.
    pub avg60: f64,
    /// Percentage of time stalled, averaged over the last 300 seconds.
    pub avg300: f64,
    /// Cumulative stall time since boot, microseconds (`total=` in the file).
    pub total_us: u64,
}

/// Serializes with the kernel's names: `{"avg10":..,"avg60":..,"avg300":..,"total":..}`.
impl Serialize for PsiLine {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("avg10", &self.avg10)?;
        m.serialize_entry("avg60", &self.avg60)?;
        m.serialize_entry("avg300", &self.avg300)?;
        m.serialize_entry("total", &self.total_us)?;
        m.end()
    }
}

/// Parsed pressure file of one resource.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct Pressure {
    /// The `some` line (absent from the irq file).
    pub some: Option<PsiLine>,
    /// The `full` line (absent from the cpu file before Linux 5.13).
    pub full: Option<PsiLine>,
}

/// Serializes as `{"some":{..},"full":{..}}`, leaving out an absent line.
impl Serialize for Pressure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(l) = &self.some {
            m.serialize_entry("some", l)?;
        }
        if let Some(l) = &self.full {
            m.serialize_entry("full", l)?;
        }
        m.end()
    }
}

/// The pressure of every resource; `None` where the file is absent (kernel
/// before 4.20, PSI disabled, or no irq accounting).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct PressureAll {
    /// `/proc/pressure/cpu`.
    pub cpu: Option<Pressure>,
    /// `/proc/pressure/io`.
    pub io: Option<Pressure>,
    /// `/proc/pressure/memory`.
    pub memory: Option<Pressure>,
    /// `/proc/pressure/irq` (since Linux 6.1).
    pub irq: Option<Pressure>,
}

impl PressureAll {
    /// The pressure of `resource`, if its file was read.
    pub fn get(&self, resource: Resource) -> Option<&Pressure> {
        match resource {
            Resource::Cpu => self.cpu.as_ref(),
            Resource::Io => self.io.as_ref(),
            Resource::Memory => self.memory.as_ref(),
            Resource::Irq => self.irq.as_ref(),
        }
    }

    /// Sets the pressure of `resource`.
    pub fn set(&mut self, resource: Resource, pressure: Pressure) {
        let slot = match resource {
            Resource::Cpu => &mut self.cpu,
            Resource::Io => &mut self.io,
            Resource::Memory => &mut self.memory,
            Resource::Irq => &mut self.irq,
        };
        *slot = Some(pressure);
    }
}

/// Serializes as `{"cpu":{..},"io":{..},"memory":{..},"irq":{..}}`, leaving out absent resources.
impl Serialize for PressureAll {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for r in Resource::ALL {
            if let Some(p) = self.get(r) {
                m.serialize_entry(r.name(), p)?;
            }
        }
        m.end()
    }
}

/// Parses the text of the pressure file of `resource` (errors name `resource.file()`).
///
/// Lines whose first word is neither `some` nor `full` are ignored, as are
/// unknown `name=value` fields. A `some` or `full` line missing one of
/// `avg10`, `avg60`, `avg300` and `total`, with a field that is not
/// `name=value`, with an average that is not a non-negative finite number or a
/// total that is not an unsigned integer, or repeated, is an error naming the
/// line. An empty input gives a `Pressure` with neither line.
///
/// ```
/// use perfcore::parse::pressure::{parse, Resource};
/// let p = parse(b"some avg10=0.00 avg60=0.00 avg300=0.00 total=14036781\n", Resource::Cpu)?;
/// assert_eq!(p.some.map(|l| l.total_us), Some(14036781));
/// assert!(p.full.is_none()); // no cpu "full" line before Linux 5.13
/// # Ok::<(), perfcore::Error>(())
/// ```
pub fn parse(bytes: &[u8], resource: Resource) -> Result<Pressure> {
    let file = resource.file();
    let mut p = Pressure::default();
    for (n, line) in Lines::new(bytes) {
        let mut f = fields(line);
        let slot = match f.next() {
            Some(b"some") => &mut p.some,
            Some(b"full") => &mut p.full,
            // Blank lines and line types a future kernel may add.
            _ => continue,
        };
        let bad = |what: &str| Error::parse(file, n, format!("{what}: {:?}", show(line)));
        if slot.is_some() {
            return Err(bad("repeated line"));
        }
        let (mut avg10, mut avg60, mut avg300, mut total) = (None, None, None, None);
        for field in f {
            let Some(eq) = field.iter().position(|&c| c == b'=') else {
                return Err(bad("field is not name=value"));
            };
            let (name, value) = (
                field.get(..eq).unwrap_or_default(),
                field.get(eq + 1..).unwrap_or_default(),
            );
            let avg = |name: &str| match parse_f64(value) {
                Some(v) if v >= 0.0 => Ok(Some(v)),
                _ => Err(bad(&format!("{name} is not a non-negative number"))),
            };
            match name {
                b"avg10" => avg10 = avg("avg10")?,
                b"avg60" => avg60 = avg("avg60")?,
                b"avg300" => avg300 = avg("avg300")?,
                b"total" => {
                    total = Some(parse_u64(value).ok_or_else(|| bad("total is not a number"))?);
                }
                _ => {}
            }
        }
        let (Some(avg10), Some(avg60), Some(avg300), Some(total_us)) =
            (avg10, avg60, avg300, total)
        else {
            return Err(bad("avg10, avg60, avg300 or total missing"));
        };
        *slot = Some(PsiLine {
            avg10,
            avg60,
            avg300,
            total_us,
        });
    }
    Ok(p)
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

    /// Reads `<case>/proc/pressure/<res>` for every resource file present.
    fn read_case(case: &str) -> PressureAll {
        let mut all = PressureAll::default();
        for r in Resource::ALL {
            let path = format!("{CORPUS}{case}/proc/pressure/{}", r.name());
            if let Ok(b) = std::fs::read(&path) {
                all.set(r, parse(&b, r).unwrap_or_else(|e| panic!("{path}: {e}")));
            }
        }
        all
    }

    fn line(avg10: f64, avg60: f64, avg300: f64, total_us: u64) -> PsiLine {
        PsiLine {
            avg10,
            avg60,
            avg300,
            total_us,
        }
    }

    #[test]
    fn resource_names_and_files() {
        let names: Vec<_> = Resource::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names, ["cpu", "io", "memory", "irq"]);
        let files: Vec<_> = ALL.iter().map(|r| r.file()).collect();
        assert_eq!(
            files,
            [
                "/proc/pressure/cpu",
                "/proc/pressure/io",
                "/proc/pressure/memory",
                "/proc/pressure/irq"
            ]
        );
        assert_eq!(Resource::Memory.to_string(), "memory");
    }

    #[test]
    fn some_and_full() {
        let p = parse(
            b"some avg10=1.50 avg60=0.25 avg300=0.00 total=123456\n\
full avg10=0.10 avg60=0.05 avg300=0.01 total=789\n",
            Resource::Io,
        )
        .unwrap();
        assert_eq!(p.some, Some(line(1.5, 0.25, 0.0, 123456)));
        assert_eq!(p.full, Some(line(0.1, 0.05, 0.01, 789)));
    }

    #[test]
    fn kernel_variants() {
        // cpu before 5.13: only `some`.
        let p = parse(
            b"some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n",
            Resource::Cpu,
        )
        .unwrap();
        assert!(p.some.is_some() && p.full.is_none());
        // irq: only `full`, no trailing newline.
        let p = parse(
            b"full avg10=0.00 avg60=0.00 avg300=0.00 total=8494",
            Resource::Irq,
        )
        .unwrap();
        assert_eq!(p.full.map(|l| l.total_us), Some(8494));
        assert!(p.some.is_none());
        // Empty file, blank lines, unknown line types and fields.
        assert_eq!(parse(b"", Resource::Cpu).unwrap(), Pressure::default());
        let p = parse(
            b"\nnew avg10=x\nsome avg10=1 avg60=2 avg300=3 total=4 avg1200=5.00\n",
            Resource::Memory,
        )
        .unwrap();
        assert_eq!(p.some, Some(line(1.0, 2.0, 3.0, 4)));
        // Fields in another order.
        let p = parse(b"some total=4 avg300=3 avg60=2 avg10=1", Resource::Cpu).unwrap();
        assert_eq!(p.some, Some(line(1.0, 2.0, 3.0, 4)));
    }

    #[test]
    fn errors_name_the_resource_file_and_line() {
        let e = parse(
            b"some avg10=0.10 avg60=2.00 avg300=3.85 total=1\nfull avg10=0.20 avg60=3.00 avg300=test total=25",
            Resource::Memory,
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Parse {
                    file: "/proc/pressure/memory",
                    line: 2,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("avg300"), "{e}");
        let bad: [&[u8]; 10] = [
            b"some avg10=0.10 avg60=2.00 avg300=3.85 total=oops",
            b"some avg10=0.10 avg60=2.00 avg300=3.85",
            b"some",
            b"full avg10=0.10 avg60=2.00 avg300=3.85 total=-1",
            b"some avg10=-0.10 avg60=2.00 avg300=3.85 total=1",
            b"some avg10=nan avg60=2.00 avg300=3.85 total=1",
            b"some avg10=0.10 avg60=inf avg300=3.85 total=1",
            b"some avg10=0.10 avg60=2.00 avg300=3.85 total=1 junk",
            b"some avg10= avg60=2.00 avg300=3.85 total=1",
            b"some avg10=1 avg60=2 avg300=3 total=4\nsome avg10=1 avg60=2 avg300=3 total=4",
        ];
        for b in bad {
            let r = parse(b, Resource::Io);
            assert!(
                matches!(
                    r,
                    Err(Error::Parse {
                        file: "/proc/pressure/io",
                        ..
                    })
                ),
                "{:?}: {r:?}",
                String::from_utf8_lossy(b)
            );
        }
    }

    #[test]
    fn pressure_all_get_and_set() {
        let mut all = PressureAll::default();
        assert!(Resource::ALL.iter().all(|&r| all.get(r).is_none()));
        let p = Pressure {
            some: Some(line(1.0, 2.0, 3.0, 4)),
            full: None,
        };
        all.set(Resource::Irq, p);
        assert_eq!(all.get(Resource::Irq), Some(&p));
        assert_eq!(all.irq, Some(p));
        assert!(all.get(Resource::Cpu).is_none());
    }

    #[test]
    fn json_uses_kernel_names() {
        let p = parse(
            b"some avg10=0.18 avg60=0.34 avg300=0.10 total=159886802\n",
            Resource::Io,
        )
        .unwrap();
        let v = serde_json::to_value(p).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"some": {"avg10": 0.18, "avg60": 0.34, "avg300": 0.1, "total": 159886802u64}})
        );
        let mut all = PressureAll::default();
        all.set(Resource::Io, p);
        all.set(Resource::Cpu, Pressure::default());
        let s = serde_json::to_string(&all).unwrap();
        assert_eq!(
            s,
            r#"{"cpu":{},"io":{"some":{"avg10":0.18,"avg60":0.34,"avg300":0.1,"total":159886802}}}"#
        );
    }

    // ---- Corpus fixtures: literal values from each case's expected.json ----

    #[test]
    fn fixture_procfs_pressure() {
        let all = read_case("procfs/pressure");
        assert!(all.irq.is_none());
        let cpu = all.cpu.unwrap();
        let some = cpu.some.unwrap();
        assert_eq!(some.avg10, 0.1);
        assert_eq!(some.avg60, 2.0);
        assert_eq!(some.avg300, 3.85);
        assert_eq!(some.total_us, 15);
        // pressure.cpu.full: null.
        assert_eq!(cpu.full, None);
        for r in [Resource::Memory, Resource::Io] {
            let p = all.get(r).unwrap();
            let some = p.some.unwrap();
            assert_eq!(some.avg10, 0.1, "{r}");
            assert_eq!(some.avg60, 2.0, "{r}");
            assert_eq!(some.avg300, 3.85, "{r}");
            assert_eq!(some.total_us, 15, "{r}");
            let full = p.full.unwrap();
            assert_eq!(full.avg10, 0.2, "{r}");
            assert_eq!(full.avg60, 3.0, "{r}");
            assert_eq!(full.avg300, 4.95, "{r}");
            assert_eq!(full.total_us, 25, "{r}");
        }
    }

    #[test]
    fn fixture_node_exporter_pressure() {
        let all = read_case("node_exporter/pressure");
        let total = |r: Resource, full: bool| {
            let p = all.get(r).unwrap();
            let l = if full { p.full } else { p.some };
            l.unwrap().total_us
        };
        assert_eq!(total(Resource::Cpu, false), 14036781);
        assert_eq!(total(Resource::Io, true), 159229614);
        assert_eq!(total(Resource::Io, false), 159886802);
        assert_eq!(total(Resource::Irq, true), 8494);
        assert_eq!(total(Resource::Memory, true), 0);
        assert_eq!(total(Resource::Memory, false), 0);
        // irq has only a "full" line; cpu has some + full (5.13+).
        assert_eq!(all.irq.unwrap().some, None);
        assert_eq!(all.cpu.unwrap().full, Some(line(0.0, 0.0, 0.0, 0)));
        assert_eq!(all.io.unwrap().some, Some(line(0.18, 0.34, 0.1, 159886802)));
    }

    #[test]
    fn fixture_node_exporter_cpu_some_only_2019() {
        let b = fixture("node_exporter/pressure-cpu-some-only-2019/proc/pressure/cpu");
        let p = parse(&b, Resource::Cpu).unwrap();
        assert_eq!(p.some.unwrap().total_us, 14036781);
        assert_eq!(p.full, None);
    }

    #[test]
    fn fixture_telegraf_pressure() {
        let all = read_case("telegraf/pressure");
        for r in [Resource::Cpu, Resource::Memory, Resource::Io] {
            let some = all.get(r).unwrap().some.unwrap();
            assert_eq!(some.avg10, 10.0, "{r}");
            assert_eq!(some.avg60, 60.0, "{r}");
            assert_eq!(some.avg300, 300.0, "{r}");
            assert_eq!(some.total_us, 114514, "{r}");
        }
        for r in [Resource::Memory, Resource::Io] {
            let full = all.get(r).unwrap().full.unwrap();
            assert_eq!(full.avg10, 1.0, "{r}");
            assert_eq!(full.avg60, 6.0, "{r}");
            assert_eq!(full.avg300, 30.0, "{r}");
            assert_eq!(full.total_us, 11451, "{r}");
        }
        // The file has a cpu "full" line of zeros (telegraf does not emit it).
        assert_eq!(all.cpu.unwrap().full, Some(line(0.0, 0.0, 0.0, 0)));
    }

    #[test]
    fn fixture_procfs_inline_malformed() {
        let dir = "procfs/pressure-inline-malformed/";
        // unknown-type.txt: no error, some = full = null.
        let p = parse(&fixture(&format!("{dir}unknown-type.txt")), Resource::Cpu).unwrap();
        assert_eq!(p.some, None);
        assert_eq!(p.full, None);
        // malformed-some.txt (total=oops, line 1) and malformed-full.txt
        // (avg300=test, line 2): errors, so no lines at all.
        let e = parse(&fixture(&format!("{dir}malformed-some.txt")), Resource::Cpu).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Parse {
                    file: "/proc/pressure/cpu",
                    line: 1,
                    ..
                }
            ),
            "{e}"
        );
        let e = parse(&fixture(&format!("{dir}malformed-full.txt")), Resource::Cpu).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Parse {
                    file: "/proc/pressure/cpu",
                    line: 2,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn fixture_json() {
        let all = read_case("node_exporter/pressure");
        let v = serde_json::to_value(all).unwrap();
        assert_eq!(v["cpu"]["some"]["total"], 14036781);
        assert_eq!(v["io"]["full"]["total"], 159229614);
        assert_eq!(v["irq"]["full"]["total"], 8494);
        assert!(v["irq"].get("some").is_none());
        assert_eq!(v["io"]["some"]["avg10"], 0.18);
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 4);
        let procfs = serde_json::to_value(read_case("procfs/pressure")).unwrap();
        assert!(procfs.get("irq").is_none());
        assert!(procfs["cpu"].get("full").is_none());
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

    fn io_fixture() -> &'static [u8] {
        static B: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        B.get_or_init(|| fixture("node_exporter/pressure/proc/pressure/io"))
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..512), r in 0usize..4) {
            let r = Resource::ALL[r];
            if let Ok(p) = parse(&b, r) {
                let _ = serde_json::to_string(&p);
            }
        }

        #[test]
        fn psi_like_bytes_never_panic(
            b in proptest::collection::vec(
                proptest::sample::select(b"somefulavgtl=0123456789. \n".to_vec()),
                0..256,
            )
        ) {
            if let Ok(p) = parse(&b, Resource::Memory)
                && let Some(l) = p.some
            {
                prop_assert!(l.avg10 >= 0.0 && l.avg10.is_finite());
            }
        }

        #[test]
        fn mutated_fixture_never_panics(
            ops in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..12)
        ) {
            let b = mutate(io_fixture(), &ops);
            if let Ok(p) = parse(&b, Resource::Io) {
                let _ = serde_json::to_string(&p);
            }
        }
    }
}
