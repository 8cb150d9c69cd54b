//! The capture format: NDJSON, one record per source per tick, as the older
//! collector (`pcc`) wrote it.
//!
//! ```text
//! {"timestamp":1767813011,"subsystem":"/proc/stat","measurement":"cpu  373708 ..."}
//! ```
//!
//! Records of one tick share one timestamp (unix seconds) and come in the order
//! of [`Source::ALL`]. A capture may hold any subset of sources. Reading keeps
//! records of unknown subsystems (e.g. per-container data) so a rewrite loses
//! nothing; writing escapes strings exactly as Go's `encoding/json` does, so a
//! capture written here is byte-for-byte what the older collector would write.

use std::borrow::Cow;
use std::io::{BufRead, Write};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::gofmt::push_json_string;
use crate::snapshot::{OtherRecord, RawSample, Source};

/// One line of a capture, borrowing from it where no unescaping was needed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Record<'a> {
    /// Unix seconds of the tick.
    pub timestamp: i64,
    /// Which source: `/proc/stat`, `statfs[*]`, ...
    #[serde(borrow)]
    pub subsystem: Cow<'a, str>,
    /// The raw text of the source.
    #[serde(borrow)]
    pub measurement: Cow<'a, str>,
}

/// Parses one capture line; `line_no` (1-based) is used in the error.
pub fn parse_record(line: &[u8], line_no: usize) -> Result<Record<'_>> {
    serde_json::from_slice(line).map_err(|e| Error::Capture {
        line: line_no,
        message: e.to_string(),
    })
}

/// Whether `line` (the first non-blank line of a file) starts a capture: a
/// record, or a torn one that still names its timestamp or subsystem. Other
/// JSON, such as `container_names.json`, does not.
pub fn looks_like_record(line: &str) -> bool {
    let line = line.trim_start_matches('\u{feff}').trim();
    line.starts_with('{')
        && (parse_record(line.as_bytes(), 1).is_ok()
            || line.contains("\"timestamp\"")
            || line.contains("\"subsystem\""))
}

/// Appends one record line (with its newline) in the older collector's exact form.
pub fn push_record(out: &mut String, timestamp: i64, subsystem: &str, measurement: &[u8]) {
    use std::fmt::Write as _;
    let _ = write!(out, "{{\"timestamp\":{timestamp},\"subsystem\":");
    push_json_string(out, subsystem.as_bytes());
    out.push_str(",\"measurement\":");
    push_json_string(out, measurement);
    out.push_str("}\n");
}

/// Which sources a writer puts in a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sources {
    /// Every source present in the sample (older readers skip the ones they do not know).
    #[default]
    All,
    /// Only the ones the older collector recorded (`/proc/cpuinfo`, `/proc/stat`,
    /// `/proc/meminfo`, `/proc/net/dev`, `/proc/diskstats`, `statfs[*]`).
    PccOnly,
}

/// Appends the records of one sample to `out`.
pub fn push_sample(out: &mut String, sample: &RawSample, sources: Sources) {
    let ts = sample.timestamp_s();
    for source in sample.sources() {
        if sources == Sources::PccOnly && !Source::PCC.contains(&source) {
            continue;
        }
        if let Some(text) = sample.get(source) {
            push_record(out, ts, source.subsystem(), text);
        }
    }
    if sources == Sources::All {
        for o in &sample.other {
            push_record(out, ts, &o.subsystem, &o.measurement);
        }
    }
}

/// Writes samples as a capture.
#[derive(Debug)]
pub struct CaptureWriter<W: Write> {
    inner: W,
    buf: String,
    sources: Sources,
}

impl<W: Write> CaptureWriter<W> {
    /// A writer of every source present in each sample.
    pub fn new(inner: W) -> Self {
        Self::with_sources(inner, Sources::All)
    }

    /// A writer limited to `sources`.
    pub fn with_sources(inner: W, sources: Sources) -> Self {
        CaptureWriter {
            inner,
            buf: String::new(),
            sources,
        }
    }

    /// Writes one sample's records (one `write` call, so a crash leaves whole ticks
    /// or a torn last line, never interleaved records).
    pub fn write_sample(&mut self, sample: &RawSample) -> std::io::Result<()> {
        self.buf.clear();
        push_sample(&mut self.buf, sample, self.sources);
        self.inner.write_all(self.buf.as_bytes())
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }

    /// The underlying writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// Reads a capture as a stream of samples, one per tick.
///
/// A tick ends when the timestamp changes or a subsystem repeats. A blank line
/// is skipped. A malformed line is an error naming its line number; with
/// [`SampleReader::skip_bad_lines`] it is counted and skipped instead (a capture
/// torn by a crash ends in a partial line).
#[derive(Debug)]
pub struct SampleReader<R: BufRead> {
    input: R,
    line_no: usize,
    line: Vec<u8>,
    pending: Option<RawSample>,
    done: bool,
    skip_bad: bool,
    bad_lines: Vec<Error>,
}

impl<R: BufRead> SampleReader<R> {
    /// Reads samples from `input`.
    pub fn new(input: R) -> Self {
        SampleReader {
            input,
            line_no: 0,
            line: Vec::with_capacity(1 << 16),
            pending: None,
            done: false,
            skip_bad: false,
            bad_lines: Vec::new(),
        }
    }

    /// Skips malformed lines (kept in [`SampleReader::bad_lines`]) instead of failing.
    pub fn skip_bad_lines(mut self, yes: bool) -> Self {
        self.skip_bad = yes;
        self
    }

    /// Errors of lines skipped so far.
    pub fn bad_lines(&self) -> &[Error] {
        &self.bad_lines
    }

    fn next_sample(&mut self) -> Result<Option<RawSample>> {
        loop {
            if self.done {
                return Ok(self.pending.take());
            }
            self.line.clear();
            let n = self
                .input
                .read_until(b'\n', &mut self.line)
                .map_err(|e| Error::io("capture", e))?;
            if n == 0 {
                self.done = true;
                continue;
            }
            self.line_no += 1;
            let line = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
            let text = crate::parse::trim(line);
            if text.is_empty() {
                continue;
            }
            let rec = match parse_record(text, self.line_no) {
                Ok(r) => r,
                Err(e) if self.skip_bad => {
                    self.bad_lines.push(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let ts_ms = rec.timestamp.saturating_mul(1000);
            let source = Source::from_subsystem(&rec.subsystem);
            let starts_new = match &self.pending {
                None => true,
                Some(p) => {
                    p.timestamp_ms != ts_ms
                        || match source {
                            Some(s) => p.has(s),
                            None => p.other.iter().any(|o| o.subsystem == rec.subsystem),
                        }
                }
            };
            let finished = if starts_new {
                self.pending.replace(RawSample::new(ts_ms))
            } else {
                None
            };
            if let Some(p) = self.pending.as_mut() {
                match source {
                    Some(s) => p.set(s, rec.measurement.as_bytes()),
                    None => p.other.push(OtherRecord {
                        subsystem: rec.subsystem.into_owned(),
                        measurement: rec.measurement.into_owned().into_bytes(),
                    }),
                }
            }
            if finished.is_some() {
                return Ok(finished);
            }
        }
    }
}

impl<R: BufRead> Iterator for SampleReader<R> {
    type Item = Result<RawSample>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_sample() {
            Ok(Some(s)) => Some(Ok(s)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                self.pending = None;
                Some(Err(e))
            }
        }
    }
}

/// Reads a whole capture into memory.
pub fn read_all<R: BufRead>(input: R) -> Result<Vec<RawSample>> {
    SampleReader::new(input).collect()
}

/// Writes samples as a capture into a `String`.
pub fn to_string(samples: &[RawSample], sources: Sources) -> String {
    let mut out = String::new();
    for s in samples {
        push_sample(&mut out, s, sources);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_TICKS: &str = concat!(
        "{\"timestamp\":100,\"subsystem\":\"/proc/stat\",\"measurement\":\"cpu  1 2 3 4\\n\"}\n",
        "{\"timestamp\":100,\"subsystem\":\"/proc/meminfo\",\"measurement\":\"MemTotal: 5 kB\\n\"}\n",
        "{\"timestamp\":100,\"subsystem\":\"container/docker/abc\",\"measurement\":\"x\"}\n",
        "{\"timestamp\":105,\"subsystem\":\"/proc/stat\",\"measurement\":\"cpu  2 2 3 4\\n\"}\n",
    );

    #[test]
    fn groups_records_into_ticks_and_round_trips() {
        let samples = read_all(TWO_TICKS.as_bytes()).unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].timestamp_s(), 100);
        assert_eq!(samples[0].get(Source::Stat), Some(&b"cpu  1 2 3 4\n"[..]));
        assert_eq!(
            samples[0].get(Source::Meminfo),
            Some(&b"MemTotal: 5 kB\n"[..])
        );
        assert_eq!(samples[0].other.len(), 1);
        assert_eq!(samples[1].timestamp_s(), 105);
        assert!(!samples[1].has(Source::Meminfo));
        assert_eq!(to_string(&samples, Sources::All), TWO_TICKS);
        let strict = to_string(&samples, Sources::PccOnly);
        assert!(!strict.contains("container"));
    }

    #[test]
    fn a_record_line_is_told_from_other_json() {
        assert!(looks_like_record(
            "{\"timestamp\":1,\"subsystem\":\"/proc/stat\",\"measurement\":\"\"}"
        ));
        assert!(looks_like_record("\u{feff}{\"timestamp\":17678130"), "torn");
        assert!(!looks_like_record("{"), "container_names.json opens so");
        assert!(!looks_like_record("{\"942b4769\": \"web\"}"));
        assert!(!looks_like_record("timestamp,cpu"));
    }

    #[test]
    fn repeated_subsystem_with_same_timestamp_starts_a_new_tick() {
        let text = concat!(
            "{\"timestamp\":7,\"subsystem\":\"/proc/stat\",\"measurement\":\"a\"}\n",
            "{\"timestamp\":7,\"subsystem\":\"/proc/stat\",\"measurement\":\"b\"}\n",
        );
        let samples = read_all(text.as_bytes()).unwrap();
        assert_eq!(samples.len(), 2);
    }

    #[test]
    fn bad_line_is_named_or_skipped() {
        let text = format!("{TWO_TICKS}{{\"timestamp\":1,\"subsys");
        let err = read_all(text.as_bytes()).unwrap_err().to_string();
        assert!(err.starts_with("capture line 5:"), "{err}");
        let mut r = SampleReader::new(text.as_bytes()).skip_bad_lines(true);
        let n = r.by_ref().filter_map(|s| s.ok()).count();
        assert_eq!(n, 2);
        assert_eq!(r.bad_lines().len(), 1);
    }

    #[test]
    fn empty_input_has_no_samples() {
        assert!(read_all(&b""[..]).unwrap().is_empty());
        assert!(read_all(&b"\n\n"[..]).unwrap().is_empty());
    }
}
