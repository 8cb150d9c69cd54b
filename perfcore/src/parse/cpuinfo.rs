//! `/proc/cpuinfo`: per-processor `key : value` blocks, whose keys and layout
//! differ by architecture.
//!
//! Layouts handled (all in the fixture corpus):
//! - x86, arm (modern), powerpc, riscv, mips, loongarch: one block per
//!   processor, starting at `processor : N`, blocks separated by blank lines;
//!   lines before the first block (mips and loongarch `system type`, legacy
//!   arm `Processor`) and blocks without a `processor` line (arm `Hardware`,
//!   powerpc `timebase`/`platform`/`model` trailers) are *global*.
//! - legacy arm: per-processor blocks hold only `processor` and `BogoMIPS`;
//!   the model (`Processor`) and `Features` are global.
//! - legacy uniprocessor arm (and other files with no per-processor block):
//!   one processor is reported, whose values all come from the global pairs.
//! - s390x: a global header (`vendor_id`, `features`, `bogomips per cpu`,
//!   `processor N: version = ...` lines), then one `cpu number : N` block per
//!   CPU. Older kernels print no `cpu number` blocks; their files get one
//!   processor per `processor N:` line, with pairs `processor`, `version`,
//!   `identification`, `machine` taken from that line.
//!
//! A [`Processor`] looks a key up in its own block first, then in the
//! global pairs, so typed accessors work on every layout.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::{parse_f64, parse_u64, show};
use crate::error::{Error, Result};

/// The file this module parses, as named in errors.
pub const FILE: &str = "/proc/cpuinfo";

/// `(key, value)` pairs as printed, both trimmed.
type Pairs<'a> = [(&'a str, &'a str)];

/// One processor's block of `/proc/cpuinfo`, with the file's global pairs to
/// fall back on.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Processor<'a> {
    pairs: Vec<(&'a str, &'a str)>,
    global: Arc<Pairs<'a>>,
}

impl fmt::Debug for Processor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Processor")
            .field("pairs", &self.pairs)
            .finish_non_exhaustive()
    }
}

impl<'a> Processor<'a> {
    /// This processor's own `(key, value)` pairs in file order (keys as
    /// printed, values trimmed and possibly empty, like `power management`).
    pub fn pairs(&self) -> &[(&'a str, &'a str)] {
        &self.pairs
    }

    /// The value of `key` (exact, case-sensitive) in this processor's block,
    /// else among the global pairs.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        own(&self.pairs, key).or_else(|| own(&self.global, key))
    }

    /// The first of `keys` that is present (each looked up as [`get`](Self::get) does).
    fn first(&self, keys: &[&str]) -> Option<&'a str> {
        keys.iter().find_map(|k| self.get(k))
    }

    /// The processor number: `processor` (s390x: `cpu number`). `None` for
    /// the single processor of a file that prints no number (legacy uniprocessor arm).
    pub fn processor(&self) -> Option<u32> {
        own(&self.pairs, "processor")
            .or_else(|| own(&self.pairs, "cpu number"))
            .and_then(parse_u32)
    }

    /// The vendor: `vendor_id` (x86, s390x), `vendor`; like prometheus/procfs,
    /// `system type` on mips and loongarch and `cpu` on powerpc.
    pub fn vendor_id(&self) -> Option<&'a str> {
        self.first(&["vendor_id", "vendor", "system type", "cpu"])
    }

    /// The CPU family as printed: `cpu family` (x86), `CPU Family` (loongarch).
    pub fn cpu_family(&self) -> Option<&'a str> {
        self.first(&["cpu family", "CPU Family"])
    }

    /// The model number as printed (x86 `model`). Only the processor's own
    /// block is read: powerpc's global `model` names the machine, not the CPU.
    pub fn model(&self) -> Option<&'a str> {
        own(&self.pairs, "model")
    }

    /// The model name: `model name` (x86, arm), `Model Name` (loongarch),
    /// `cpu model` (mips), the global `Processor` (legacy arm), `uarch` or
    /// else `isa` (riscv; procfs reports the ISA), `cpu` (powerpc, sparc).
    pub fn model_name(&self) -> Option<&'a str> {
        self.first(&[
            "model name",
            "Model Name",
            "cpu model",
            "Processor",
            "uarch",
            "isa",
            "cpu",
        ])
    }

    /// The stepping as printed (x86).
    pub fn stepping(&self) -> Option<&'a str> {
        self.get("stepping")
    }

    /// The microcode revision as printed (x86, e.g. `0xb4`).
    pub fn microcode(&self) -> Option<&'a str> {
        self.get("microcode")
    }

    /// The clock in MHz: `cpu MHz` (x86), `CPU MHz` (loongarch), `cpu MHz
    /// dynamic` (s390x), `clock` (powerpc, printed `3000.000000MHz`).
    pub fn cpu_mhz(&self) -> Option<f64> {
        self.first(&["cpu MHz", "CPU MHz", "cpu MHz dynamic", "clock"])
            .and_then(leading_number)
    }

    /// The cache size as printed (x86, e.g. `8192 KB`).
    pub fn cache_size(&self) -> Option<&'a str> {
        self.get("cache size")
    }

    /// The physical package (socket) id as printed: `physical id`, `package` (loongarch).
    pub fn physical_id(&self) -> Option<&'a str> {
        self.first(&["physical id", "package"])
    }

    /// Logical processors in this package (`siblings`).
    pub fn siblings(&self) -> Option<u32> {
        self.get("siblings").and_then(parse_u32)
    }

    /// The core id as printed: `core id`, `core` (mips, loongarch), `hart`
    /// (riscv, as prometheus/procfs maps it).
    pub fn core_id(&self) -> Option<&'a str> {
        self.first(&["core id", "core", "hart"])
    }

    /// Cores in this package (`cpu cores`).
    pub fn cpu_cores(&self) -> Option<u32> {
        self.get("cpu cores").and_then(parse_u32)
    }

    /// The feature flags: `flags` (x86), `Features` (arm, loongarch),
    /// `features` (s390x). Empty when the file has none.
    pub fn flags(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.first(&["flags", "Features", "features"])
            .unwrap_or_default()
            .split_ascii_whitespace()
    }

    /// Whether [`flags`](Self::flags) lists `flag`.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags().any(|f| f == flag)
    }

    /// The hardware bugs the kernel works around (x86 `bugs`).
    pub fn bugs(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.get("bugs")
            .unwrap_or_default()
            .split_ascii_whitespace()
    }

    /// BogoMIPS: `bogomips` (x86), `BogoMIPS` (arm, mips, loongarch),
    /// `bogomips per cpu` (s390x).
    pub fn bogomips(&self) -> Option<f64> {
        self.first(&["bogomips", "BogoMIPS", "bogomips per cpu"])
            .and_then(leading_number)
    }
}

/// Serializes the processor's own pairs as `{"<key as printed>": "<value>", ...}`.
impl Serialize for Processor<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_pairs(&self.pairs, s)
    }
}

/// Parsed `/proc/cpuinfo`: the processors in file order and the global pairs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CpuInfo<'a> {
    processors: Vec<Processor<'a>>,
    global: Arc<Pairs<'a>>,
}

impl<'a> CpuInfo<'a> {
    /// The processors in file order.
    pub fn processors(&self) -> &[Processor<'a>] {
        &self.processors
    }

    /// How many processors the file describes.
    pub fn len(&self) -> usize {
        self.processors.len()
    }

    /// Whether the file describes no processor (an empty file).
    pub fn is_empty(&self) -> bool {
        self.processors.is_empty()
    }

    /// The model name of the first processor.
    pub fn model_name(&self) -> Option<&'a str> {
        self.processors.first().and_then(Processor::model_name)
    }

    /// How many physical packages (sockets): distinct [`Processor::physical_id`]s,
    /// at least 1 when there is any processor.
    pub fn physical_cpus(&self) -> usize {
        let mut seen: Vec<&str> = Vec::new();
        for id in self.processors.iter().filter_map(Processor::physical_id) {
            if !seen.contains(&id) {
                seen.push(id);
            }
        }
        if self.processors.is_empty() {
            0
        } else {
            seen.len().max(1)
        }
    }

    /// The value of a global key (one outside every processor block).
    pub fn global(&self, key: &str) -> Option<&'a str> {
        own(&self.global, key)
    }

    /// The global `(key, value)` pairs in file order.
    pub fn global_pairs(&self) -> &[(&'a str, &'a str)] {
        &self.global
    }
}

/// Serializes as `{"processors": [{"<key>": "<value>", ...}, ...]}`, plus
/// `"global": {...}` when the file has global pairs.
impl Serialize for CpuInfo<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("processors", &self.processors)?;
        if !self.global.is_empty() {
            m.serialize_entry("global", &PairsMap(&self.global))?;
        }
        m.end()
    }
}

struct PairsMap<'s, 'a>(&'s Pairs<'a>);

impl Serialize for PairsMap<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_pairs(self.0, s)
    }
}

fn serialize_pairs<S: Serializer>(pairs: &Pairs<'_>, s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(pairs.len()))?;
    for (k, v) in pairs {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

#[inline]
fn own<'a>(pairs: &Pairs<'a>, key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| *k == key).map(|&(_, v)| v)
}

fn parse_u32(s: &str) -> Option<u32> {
    parse_u64(s.as_bytes()).and_then(|v| u32::try_from(v).ok())
}

/// The number at the start of `s` (`3000.000000MHz` → 3000).
fn leading_number(s: &str) -> Option<f64> {
    let end = s
        .bytes()
        .position(|c| !(c.is_ascii_digit() || c == b'.'))
        .unwrap_or(s.len());
    parse_f64(s.get(..end)?.as_bytes())
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\x0b' | '\x0c')
}

/// Parses the text of `/proc/cpuinfo` (any architecture's layout; see the
/// module documentation).
///
/// Every non-blank line must be `key : value` (the value may be empty); a
/// line without `:`, one with an empty key, or text that is not UTF-8 is an
/// error naming the line. Values are kept as text; typed accessors return
/// `None` for what does not parse.
pub fn parse(bytes: &[u8]) -> Result<CpuInfo<'_>> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let before = bytes.get(..e.valid_up_to()).unwrap_or_default();
        let n = 1 + before.iter().filter(|&&c| c == b'\n').count();
        let line = bytes
            .get(before.len() - before.iter().rev().take_while(|&&c| c != b'\n').count()..)
            .unwrap_or_default();
        let line = line.split(|&c| c == b'\n').next().unwrap_or_default();
        Error::parse(FILE, n, format!("not UTF-8: {:?}", show(line)))
    })?;

    let mut blocks: Vec<Vec<(&str, &str)>> = Vec::new();
    let mut global: Vec<(&str, &str)> = Vec::new();
    let mut in_block = false;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.trim_matches(is_space);
        if line.is_empty() {
            in_block = false;
            continue;
        }
        let bad =
            |what: &str| Error::parse(FILE, i + 1, format!("{what}: {:?}", show(raw.as_bytes())));
        let (key, value) = line.split_once(':').ok_or_else(|| bad("no ':' in line"))?;
        let key = key.trim_matches(is_space);
        let value = value.trim_matches(is_space);
        if key.is_empty() {
            return Err(bad("empty key"));
        }
        let starts_block = matches!(key, "processor" | "cpu number") && parse_u32(value).is_some();
        if starts_block {
            // The next block is most likely as long as the last one.
            let cap = blocks.last().map_or(8, Vec::len);
            let mut pairs = Vec::with_capacity(cap);
            pairs.push((key, value));
            blocks.push(pairs);
            in_block = true;
        } else if in_block && let Some(b) = blocks.last_mut() {
            b.push((key, value));
        } else {
            global.push((key, value));
        }
    }

    if blocks.is_empty() {
        blocks = s390_processor_lines(&global);
    }
    if blocks.is_empty() && !global.is_empty() {
        // No per-processor block (legacy uniprocessor arm): one processor,
        // described entirely by the global pairs.
        blocks.push(Vec::new());
    }
    let global: Arc<Pairs<'_>> = Arc::from(global);
    let processors = blocks
        .into_iter()
        .map(|pairs| Processor {
            pairs,
            global: Arc::clone(&global),
        })
        .collect();
    Ok(CpuInfo { processors, global })
}

/// Processors from s390x `processor N: version = FF,  identification = ...,
/// machine = 2964` lines, for kernels that print no `cpu number` blocks.
fn s390_processor_lines<'a>(global: &[(&'a str, &'a str)]) -> Vec<Vec<(&'a str, &'a str)>> {
    let mut out = Vec::new();
    for &(key, value) in global {
        // `processor 12`: the word, blanks, a number.
        let Some(rest) = key.strip_prefix("processor") else {
            continue;
        };
        let n = rest.trim_matches(is_space);
        if !rest.starts_with(is_space) || parse_u32(n).is_none() {
            continue;
        }
        let mut pairs = vec![("processor", n)];
        for part in value.split(',') {
            if let Some((k, v)) = part.split_once('=') {
                let k = k.trim_matches(is_space);
                if !k.is_empty() {
                    pairs.push((k, v.trim_matches(is_space)));
                }
            }
        }
        out.push(pairs);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    macro_rules! fixture {
        ($case:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/fixtures/corpus/",
                $case,
                "/proc/cpuinfo"
            ))
        };
    }

    const X86: &[u8] = fixture!("procfs/cpuinfo-x86");
    const X86_NODE: &[u8] = fixture!("node_exporter/cpuinfo-x86");
    const ARM7_LEGACY: &[u8] = fixture!("procfs/cpuinfo-arm7-legacy");
    const ARMV6_LEGACY: &[u8] = fixture!("procfs/cpuinfo-armv6-legacy-v1");
    const ARM7: &[u8] = fixture!("procfs/cpuinfo-arm7");
    const S390X: &[u8] = fixture!("procfs/cpuinfo-s390x");
    const MIPS: &[u8] = fixture!("procfs/cpuinfo-mips");
    const PPC64: &[u8] = fixture!("procfs/cpuinfo-ppc64");
    const RISCV64: &[u8] = fixture!("procfs/cpuinfo-riscv64");
    const LOONG64: &[u8] = fixture!("procfs/cpuinfo-loong64");

    const ALL: [&[u8]; 10] = [
        X86,
        X86_NODE,
        ARM7_LEGACY,
        ARMV6_LEGACY,
        ARM7,
        S390X,
        MIPS,
        PPC64,
        RISCV64,
        LOONG64,
    ];

    #[test]
    fn small_x86_file() {
        let c = parse(
            b"processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: EPYC\ncpu MHz\t\t: 2994.372\n\
physical id\t: 0\nflags\t\t: fpu sse\npower management:\n\nprocessor\t: 1\nphysical id\t: 1\n",
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        assert!(!c.is_empty());
        let p = &c.processors()[0];
        assert_eq!(p.processor(), Some(0));
        assert_eq!(p.vendor_id(), Some("AuthenticAMD"));
        assert_eq!(p.cpu_mhz(), Some(2994.372));
        assert_eq!(p.flags().collect::<Vec<_>>(), vec!["fpu", "sse"]);
        assert!(p.has_flag("sse") && !p.has_flag("avx"));
        assert_eq!(p.get("power management"), Some(""));
        assert_eq!(p.bugs().count(), 0);
        assert_eq!(c.processors()[1].model_name(), None);
        assert_eq!(c.model_name(), Some("EPYC"));
        assert_eq!(c.physical_cpus(), 2);
        assert!(c.global_pairs().is_empty());
    }

    #[test]
    fn empty_and_blank_files() {
        let c = parse(b"").unwrap();
        assert!(c.is_empty());
        assert_eq!(c.physical_cpus(), 0);
        assert_eq!(c.model_name(), None);
        assert!(parse(b"\n\n \t\n").unwrap().is_empty());
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse(b"processor : 0\nflags fpu\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/proc/cpuinfo: line 2:"), "{e}");
        assert!(e.contains("no ':'"), "{e}");
        let e = parse(b"processor : 0\n\nmodel : \xff\xfe\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/proc/cpuinfo: line 3:"), "{e}");
        assert!(e.contains("not UTF-8"), "{e}");
        assert!(parse(b" : 5\n").is_err());
        assert!(parse(b"garbage").is_err());
    }

    #[test]
    fn odd_values_are_data() {
        let c = parse(b"processor : 0\ncpu MHz : fast\nsiblings : -1\ncpu cores :\nBogoMIPS : x\n")
            .unwrap();
        let p = &c.processors()[0];
        assert_eq!(p.cpu_mhz(), None);
        assert_eq!(p.siblings(), None);
        assert_eq!(p.cpu_cores(), None);
        assert_eq!(p.bogomips(), None);
        // A `processor` line without a number does not start a block.
        let c = parse(b"processor : zero\nfoo : 1\n").unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c.processors()[0].processor(), None);
        assert_eq!(c.global("processor"), Some("zero"));
    }

    #[test]
    fn blocks_without_blank_lines_between() {
        let c = parse(b"processor : 0\ncore id : 0\nprocessor : 1\ncore id : 1\n").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c.processors()[1].core_id(), Some("1"));
    }

    #[test]
    fn old_s390_without_cpu_number_blocks() {
        let c = parse(
            b"vendor_id       : IBM/S390\n# processors    : 2\nbogomips per cpu: 3033.00\n\
features\t: esan3 zarch\nprocessor 0: version = FF,  identification = 2733E8,  machine = 2964\n\
processor 1: version = FF,  identification = 1733E8,  machine = 2964\n",
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        let p = &c.processors()[1];
        assert_eq!(p.processor(), Some(1));
        assert_eq!(p.get("identification"), Some("1733E8"));
        assert_eq!(p.get("machine"), Some("2964"));
        assert_eq!(p.vendor_id(), Some("IBM/S390"));
        assert_eq!(p.bogomips(), Some(3033.0));
        assert_eq!(p.flags().nth(1), Some("zarch"));
    }

    #[test]
    fn json_keeps_keys_as_printed() {
        let c = parse(ARM7_LEGACY).unwrap();
        let j = serde_json::to_value(&c).unwrap();
        assert_eq!(j["processors"].as_array().unwrap().len(), 2);
        assert_eq!(j["processors"][0]["processor"], "0");
        assert_eq!(j["processors"][1]["BogoMIPS"], "2400.00");
        assert_eq!(j["global"]["Processor"], "ARMv7 Processor rev 5 (v7l)");
        assert_eq!(j["global"]["CPU architecture"], "7");
        assert_eq!(j["global"]["Serial"], "5400503583203c3c040e");
        let x = serde_json::to_value(parse(X86).unwrap()).unwrap();
        assert!(x.get("global").is_none());
        assert_eq!(
            x["processors"][3]["model name"],
            "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz"
        );
        assert_eq!(x["processors"][3]["power management"], "");
        assert_eq!(x["processors"][3]["cpu MHz"], "800.028");
        assert_eq!(x["processors"][3].as_object().unwrap().len(), 26);
    }

    // ---- Fixture tests: every assertion of every cpuinfo case's expected.json.

    #[test]
    fn fixture_procfs_x86() {
        let c = parse(X86).unwrap();
        let p = c.processors();
        assert_eq!(c.len(), 8);
        assert_eq!(p[7].processor(), Some(7));
        assert_eq!(p[0].vendor_id(), Some("GenuineIntel"));
        assert_eq!(p[1].cpu_family(), Some("6"));
        assert_eq!(p[2].model(), Some("142"));
        assert_eq!(
            p[3].model_name(),
            Some("Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz")
        );
        assert_eq!(p[4].siblings(), Some(8));
        assert_eq!(p[5].core_id(), Some("1"));
        assert_eq!(p[6].cpu_cores(), Some(4));
        assert_eq!(p[7].flags().nth(1), Some("vme"));
        // More of the file.
        assert_eq!(p[0].cpu_mhz(), Some(799.998));
        assert_eq!(p[0].bogomips(), Some(4224.0));
        assert_eq!(p[0].cache_size(), Some("8192 KB"));
        assert_eq!(p[0].stepping(), Some("10"));
        assert_eq!(p[0].microcode(), Some("0xb4"));
        assert_eq!(p[0].physical_id(), Some("0"));
        assert_eq!(
            p[0].get("address sizes"),
            Some("39 bits physical, 48 bits virtual")
        );
        assert_eq!(p[0].get("power management"), Some(""));
        assert_eq!(p[0].bugs().last(), Some("swapgs"));
        assert_eq!(c.physical_cpus(), 1);
        assert_eq!(
            c.model_name(),
            Some("Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz")
        );
    }

    /// node_exporter e2e-output.txt node_cpu_info labels: (cpu, core,
    /// package, vendor, family, model, model_name, stepping, microcode, cachesize).
    #[rustfmt::skip]
    const NODE_CPU_INFO: [[&str; 10]; 8] = [
        ["0", "0", "0", "GenuineIntel", "6", "142", "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", "10", "0xb4", "8192 KB"],
        ["4", "0", "0", "GenuineIntel", "6", "142", "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", "10", "0xb4", "8192 KB"],
        ["1", "1", "0", "GenuineIntel", "6", "142", "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", "10", "0xb4", "8192 KB"],
        ["5", "1", "0", "GenuineIntel", "6", "142", "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", "10", "0xb4", "8192 KB"],
        ["2", "2", "0", "GenuineIntel", "6", "142", "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", "10", "0xb4", "8192 KB"],
        ["6", "2", "0", "GenuineIntel", "6", "142", "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", "10", "0xb4", "8192 KB"],
        ["3", "3", "0", "GenuineIntel", "6", "142", "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", "10", "0xb4", "8192 KB"],
        ["7", "3", "0", "GenuineIntel", "6", "142", "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", "10", "0xb4", "8192 KB"],
    ];

    #[test]
    fn fixture_node_exporter_x86() {
        let c = parse(X86_NODE).unwrap();
        assert_eq!(c.len(), 8);
        for [
            cpu,
            core,
            package,
            vendor,
            family,
            model,
            name,
            stepping,
            microcode,
            cache,
        ] in NODE_CPU_INFO
        {
            let p = c
                .processors()
                .iter()
                .find(|p| p.processor().map(|n| n.to_string()).as_deref() == Some(cpu))
                .unwrap();
            assert_eq!(p.core_id(), Some(core), "cpu {cpu}");
            assert_eq!(p.physical_id(), Some(package), "cpu {cpu}");
            assert_eq!(p.vendor_id(), Some(vendor), "cpu {cpu}");
            assert_eq!(p.cpu_family(), Some(family), "cpu {cpu}");
            assert_eq!(p.model(), Some(model), "cpu {cpu}");
            assert_eq!(p.model_name(), Some(name), "cpu {cpu}");
            assert_eq!(p.stepping(), Some(stepping), "cpu {cpu}");
            assert_eq!(p.microcode(), Some(microcode), "cpu {cpu}");
            assert_eq!(p.cache_size(), Some(cache), "cpu {cpu}");
        }
        // node_cpu_flag_info with flags-include=^(aes|avx.?|constant_tsc)$
        // and node_cpu_bug_info with bugs-include=^(cpu_meltdown|spectre_.*|mds)$.
        for p in c.processors() {
            let mut flags: Vec<&str> = p
                .flags()
                .filter(|f| {
                    matches!(*f, "aes" | "constant_tsc")
                        || (f.starts_with("avx") && f.chars().count() <= 4)
                })
                .collect();
            flags.sort_unstable();
            assert_eq!(flags, vec!["aes", "avx", "avx2", "constant_tsc"]);
            let mut bugs: Vec<&str> = p
                .bugs()
                .filter(|b| matches!(*b, "cpu_meltdown" | "mds") || b.starts_with("spectre_"))
                .collect();
            bugs.sort_unstable();
            assert_eq!(
                bugs,
                vec!["cpu_meltdown", "mds", "spectre_v1", "spectre_v2"]
            );
        }
    }

    #[test]
    fn fixture_procfs_arm7_legacy() {
        let c = parse(ARM7_LEGACY).unwrap();
        let p = c.processors();
        assert_eq!(c.len(), 2);
        assert_eq!(p[0].model_name(), Some("ARMv7 Processor rev 5 (v7l)"));
        assert_eq!(p[1].flags().nth(2), Some("thumb"));
        // More of the file.
        assert_eq!(p[1].processor(), Some(1));
        assert_eq!(p[1].bogomips(), Some(2400.0));
        assert_eq!(p[1].get("Hardware"), Some("sun8i"));
        assert_eq!(c.global("CPU architecture"), Some("7"));
        assert_eq!(p[0].pairs(), &[("processor", "0"), ("BogoMIPS", "2400.00")]);
    }

    #[test]
    fn fixture_procfs_armv6_legacy_without_processor_line() {
        let c = parse(ARMV6_LEGACY).unwrap();
        let p = c.processors();
        assert_eq!(c.len(), 1);
        assert_eq!(
            p[0].model_name(),
            Some("ARMv6-compatible processor rev 5 (v6l)")
        );
        assert_eq!(p[0].flags().nth(2), Some("thumb"));
        // More of the file.
        assert_eq!(p[0].processor(), None);
        assert_eq!(p[0].bogomips(), Some(791.34));
        assert_eq!(p[0].flags().last(), Some("java")); // trailing space trimmed
        assert_eq!(p[0].get("CPU architecture"), Some("6TEJ"));
        assert_eq!(c.physical_cpus(), 1);
    }

    #[test]
    fn fixture_procfs_arm7() {
        let c = parse(ARM7).unwrap();
        let p = c.processors();
        assert_eq!(c.len(), 4);
        assert_eq!(p[0].model_name(), Some("ARMv7 Processor rev 3 (v7l)"));
        assert_eq!(p[1].flags().nth(1), Some("thumb"));
        // More of the file.
        assert_eq!(p[3].processor(), Some(3));
        assert_eq!(p[3].bogomips(), Some(108.0));
        assert_eq!(c.global("Hardware"), Some("BCM2835"));
        assert_eq!(c.global("Revision"), Some("c03111"));
    }

    #[test]
    fn fixture_procfs_s390x() {
        let c = parse(S390X).unwrap();
        let p = c.processors();
        assert_eq!(c.len(), 4);
        assert_eq!(p[0].vendor_id(), Some("IBM/S390"));
        assert_eq!(p[1].flags().nth(4), Some("ldisp"));
        assert_eq!(p[2].cpu_mhz(), Some(5000.0));
        assert_eq!(p[3].siblings(), Some(8));
        assert_eq!(p[3].core_id(), Some("1"));
        assert_eq!(p[2].cpu_cores(), Some(4));
        assert_eq!(p[2].physical_id(), Some("2"));
        // More of the file.
        assert_eq!(p[3].processor(), Some(3));
        assert_eq!(p[0].bogomips(), Some(3033.0));
        assert_eq!(c.global("# processors"), Some("4"));
        assert_eq!(
            c.global("processor 3"),
            Some("version = FF,  identification = 2733E8,  machine = 2964")
        );
        assert_eq!(p[0].get("cpu MHz static"), Some("5000"));
        assert_eq!(c.physical_cpus(), 1);
    }

    #[test]
    fn fixture_procfs_mips() {
        let c = parse(MIPS).unwrap();
        let p = c.processors();
        assert_eq!(c.len(), 2);
        assert_eq!(p[0].bogomips(), Some(1000.0));
        assert_eq!(p[1].model_name(), Some("Cavium Octeon+ V0.1"));
        // More of the file.
        assert_eq!(p[1].vendor_id(), Some("UBNT_E100"));
        assert_eq!(p[1].core_id(), Some("1"));
        assert_eq!(p[0].get("ASEs implemented"), Some(""));
        assert_eq!(
            p[0].get("hardware watchpoint"),
            Some("yes, count: 2, address/irw mask: [0x0ffc, 0x0ffb]")
        );
        assert_eq!(c.global("machine"), Some("Unknown"));
    }

    #[test]
    fn fixture_procfs_ppc64() {
        let c = parse(PPC64).unwrap();
        let p = c.processors();
        assert_eq!(c.len(), 6);
        assert_eq!(p[2].cpu_mhz(), Some(3000.0));
        // More of the file.
        assert_eq!(p[5].processor(), Some(5));
        assert_eq!(
            p[0].model_name(),
            Some("POWER7 (architected), altivec supported")
        );
        assert_eq!(p[0].model(), None);
        assert_eq!(c.global("model"), Some("IBM,8233-E8B"));
        assert_eq!(c.global("platform"), Some("pSeries"));
    }

    #[test]
    fn fixture_procfs_riscv64() {
        let c = parse(RISCV64).unwrap();
        let p = c.processors();
        assert_eq!(c.len(), 2);
        assert_eq!(p[1].core_id(), Some("1"));
        assert_eq!(p[1].model_name(), Some("rv64imafdcsu"));
        // More of the file.
        assert_eq!(p[1].get("mmu"), Some("sv48"));
    }

    #[test]
    fn fixture_procfs_loong64() {
        let c = parse(LOONG64).unwrap();
        let p = c.processors();
        assert_eq!(c.len(), 4);
        assert_eq!(p[1].cpu_family(), Some("Loongson-64bit"));
        // More of the file.
        assert_eq!(p[1].model_name(), Some("Loongson-3A5000"));
        assert_eq!(p[1].cpu_mhz(), Some(2500.0));
        assert_eq!(p[1].bogomips(), Some(5000.0));
        assert_eq!(p[1].physical_id(), Some("0"));
        assert_eq!(p[1].core_id(), Some("1"));
        assert_eq!(p[1].flags().next(), Some("cpucfg"));
        assert_eq!(c.global("system type"), Some("generic-loongson-machine"));
    }

    fn mutate(base: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
        let mut b = base.to_vec();
        for &(pos, op, byte) in edits {
            let len = b.len();
            match op % 3 {
                0 if len > 0 => b[pos % len] = byte,
                1 => b.insert(pos % (len + 1), byte),
                _ if len > 0 => {
                    b.remove(pos % len);
                }
                _ => {}
            }
        }
        b
    }

    fn exercise(c: &CpuInfo<'_>) {
        let _ = (c.model_name(), c.physical_cpus(), c.global("x"));
        for p in c.processors() {
            let _ = (
                p.processor(),
                p.vendor_id(),
                p.cpu_family(),
                p.model(),
                p.model_name(),
                p.stepping(),
                p.microcode(),
                p.cpu_mhz(),
                p.cache_size(),
                p.physical_id(),
                p.siblings(),
                p.core_id(),
                p.cpu_cores(),
                p.flags().count(),
                p.bugs().count(),
                p.bogomips(),
            );
        }
        let _ = serde_json::to_string(c);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(c) = parse(&bytes) {
                exercise(&c);
            }
        }

        #[test]
        fn key_value_soup_never_panics(s in "([a-z #]{0,12}:[ 0-9a-z.]{0,12}\n{0,2}){0,20}") {
            if let Ok(c) = parse(s.as_bytes()) {
                exercise(&c);
            }
        }

        #[test]
        fn mutated_fixtures_never_panic(
            which in 0usize..10,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..16)
        ) {
            let b = mutate(ALL[which], &edits);
            if let Ok(c) = parse(&b) {
                exercise(&c);
            }
        }
    }
}
