//! PostgreSQL's binary COPY format: an encoder for ingest and a streaming decoder for
//! reads (<https://www.postgresql.org/docs/current/sql-copy.html>, "Binary Format").
//!
//! A stream is an 11-byte signature, a 32-bit flags word and a 32-bit header-extension
//! length, then tuples (16-bit field count, then per field a 32-bit length, -1 for
//! NULL, and the value in network byte order), then a 16-bit -1.

use crate::error::{Error, Result};

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
const HEADER_LEN: usize = 11 + 4 + 4;

/// Builds binary COPY data.
pub(crate) struct CopyEncoder {
    buf: Vec<u8>,
}

impl CopyEncoder {
    /// A stream with its header, room for `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity.max(HEADER_LEN + 2));
        buf.extend_from_slice(SIGNATURE);
        buf.extend_from_slice(&0i32.to_be_bytes());
        buf.extend_from_slice(&0i32.to_be_bytes());
        CopyEncoder { buf }
    }

    /// A continuation of a stream begun by [`CopyEncoder::new`] (no header), room
    /// for `capacity` bytes: a large COPY sent in parts, one encoded while the
    /// server takes the one before.
    pub fn continuation(capacity: usize) -> Self {
        CopyEncoder {
            buf: Vec::with_capacity(capacity),
        }
    }

    /// The bytes so far, the stream left open for a continuation.
    pub fn into_part(self) -> Vec<u8> {
        self.buf
    }

    /// Starts a tuple of `fields` fields.
    #[inline]
    pub fn tuple(&mut self, fields: i16) {
        self.buf.extend_from_slice(&fields.to_be_bytes());
    }

    /// A BIGINT field.
    #[inline]
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A DOUBLE PRECISION field.
    #[inline]
    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_bits().to_be_bytes());
    }

    /// A nullable DOUBLE PRECISION field.
    #[inline]
    pub fn opt_f64(&mut self, v: Option<f64>) {
        match v {
            Some(v) => self.f64(v),
            None => self.buf.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    /// Ends the stream and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

/// One decoded tuple: field accessors over the decoder's buffer.
pub(crate) struct Fields<'a> {
    buf: &'a [u8],
    ranges: &'a [Option<(usize, usize)>],
}

impl Fields<'_> {
    fn raw(&self, i: usize) -> Result<Option<&[u8]>> {
        match self.ranges.get(i) {
            Some(Some((a, b))) => Ok(Some(&self.buf[*a..*b])),
            Some(None) => Ok(None),
            None => Err(bad(format!("field {i} missing"))),
        }
    }

    fn fixed8(&self, i: usize) -> Result<Option<[u8; 8]>> {
        match self.raw(i)? {
            None => Ok(None),
            Some(b) => b
                .try_into()
                .map(Some)
                .map_err(|_| bad(format!("field {i}: {} bytes, expected 8", b.len()))),
        }
    }

    /// A nullable BYTEA, or TEXT as UTF-8 bytes.
    pub fn opt_bytes(&self, i: usize) -> Result<Option<&[u8]>> {
        self.raw(i)
    }

    /// A non-null BIGINT.
    pub fn i64(&self, i: usize) -> Result<i64> {
        self.fixed8(i)?
            .map(i64::from_be_bytes)
            .ok_or_else(|| bad(format!("field {i} is NULL")))
    }

    /// A nullable DOUBLE PRECISION.
    pub fn opt_f64(&self, i: usize) -> Result<Option<f64>> {
        Ok(self
            .fixed8(i)?
            .map(|b| f64::from_bits(u64::from_be_bytes(b))))
    }

    /// A non-null DOUBLE PRECISION.
    pub fn f64(&self, i: usize) -> Result<f64> {
        self.opt_f64(i)?
            .ok_or_else(|| bad(format!("field {i} is NULL")))
    }
}

fn bad(message: String) -> Error {
    Error::Invalid(format!("binary COPY data from the server: {message}"))
}

/// Decodes a binary COPY stream fed in chunks of any size.
pub(crate) struct CopyDecoder {
    buf: Vec<u8>,
    header_done: bool,
    finished: bool,
    ranges: Vec<Option<(usize, usize)>>,
}

impl CopyDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        CopyDecoder {
            buf: Vec::with_capacity(1 << 12),
            header_done: false,
            finished: false,
            ranges: Vec::new(),
        }
    }

    /// Feeds a chunk; calls `on_tuple` for each tuple completed by it.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        mut on_tuple: impl FnMut(&Fields<'_>) -> Result<()>,
    ) -> Result<()> {
        self.buf.extend_from_slice(chunk);
        let mut pos = 0usize;
        if !self.header_done {
            if self.buf.len() < HEADER_LEN {
                return Ok(());
            }
            if &self.buf[..11] != SIGNATURE {
                return Err(bad("bad signature".into()));
            }
            let ext = u32::from_be_bytes([self.buf[15], self.buf[16], self.buf[17], self.buf[18]])
                as usize;
            if self.buf.len() < HEADER_LEN + ext {
                return Ok(());
            }
            pos = HEADER_LEN + ext;
            self.header_done = true;
        }
        loop {
            if self.finished {
                pos = self.buf.len();
                break;
            }
            let b = &self.buf[pos..];
            if b.len() < 2 {
                break;
            }
            let n = i16::from_be_bytes([b[0], b[1]]);
            if n == -1 {
                self.finished = true;
                continue;
            }
            if n < 0 {
                return Err(bad(format!("field count {n}")));
            }
            // Scan the tuple's fields; stop if it is not complete yet.
            self.ranges.clear();
            let mut p = pos + 2;
            let mut complete = true;
            for _ in 0..n {
                if self.buf.len() < p + 4 {
                    complete = false;
                    break;
                }
                let len = i32::from_be_bytes([
                    self.buf[p],
                    self.buf[p + 1],
                    self.buf[p + 2],
                    self.buf[p + 3],
                ]);
                p += 4;
                if len < 0 {
                    self.ranges.push(None);
                    continue;
                }
                let end = p + len as usize;
                if self.buf.len() < end {
                    complete = false;
                    break;
                }
                self.ranges.push(Some((p, end)));
                p = end;
            }
            if !complete {
                break;
            }
            on_tuple(&Fields {
                buf: &self.buf,
                ranges: &self.ranges,
            })?;
            pos = p;
        }
        self.buf.drain(..pos);
        Ok(())
    }

    /// Checks that the stream ended with its trailer.
    pub fn finish(&self) -> Result<()> {
        if self.finished || (!self.header_done && self.buf.is_empty()) {
            Ok(())
        } else {
            Err(bad("stream ended early".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_any_chunking() {
        let mut e = CopyEncoder::new(0);
        for i in 0..5i64 {
            e.tuple(3);
            e.i64(i);
            e.opt_f64(if i % 2 == 0 {
                Some(i as f64 * 1.5)
            } else {
                None
            });
            e.f64(-0.25);
        }
        let bytes = e.finish();
        for chunk in [1usize, 3, 7, 64, bytes.len()] {
            let mut d = CopyDecoder::new();
            let mut got = Vec::new();
            for c in bytes.chunks(chunk) {
                d.feed(c, |f| {
                    got.push((f.i64(0)?, f.opt_f64(1)?, f.f64(2)?));
                    Ok(())
                })
                .unwrap();
            }
            d.finish().unwrap();
            assert_eq!(got.len(), 5, "chunk {chunk}");
            assert_eq!(got[2], (2, Some(3.0), -0.25));
            assert_eq!(got[3], (3, None, -0.25));
        }
    }

    #[test]
    fn truncated_stream_is_an_error() {
        let mut e = CopyEncoder::new(0);
        e.tuple(1);
        e.i64(1);
        let bytes = e.finish();
        let mut d = CopyDecoder::new();
        d.feed(&bytes[..bytes.len() - 3], |_| Ok(())).unwrap();
        assert!(d.finish().is_err());
        let mut d = CopyDecoder::new();
        assert!(
            d.feed(b"NOTCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0", |_| Ok(()))
                .is_err()
        );
    }
}
