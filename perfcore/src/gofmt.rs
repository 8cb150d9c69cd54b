//! Number and string formatting exactly as the older Go tools printed them.
//!
//! The older processor wrote floats with Go's `%v` (`strconv.FormatFloat(v, 'g', -1, 64)`):
//! the shortest digits that round-trip, in exponent form (`1.2345675e+06`, `1e-05`) when
//! the decimal exponent is below -4 or at least 6, plain otherwise. Its collector wrote
//! JSON with Go's `encoding/json`, which escapes `<`, `>`, `&`, U+2028 and U+2029.

use std::fmt::Write as _;

/// Appends `v` formatted like Go's `%v` for a `float64`.
pub fn push_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    // Rust's `{:e}` prints the shortest round-trip digits, like Go's strconv.
    let mut sci = StackStr::default();
    let _ = write!(sci, "{:e}", v.abs());
    let sci = sci.as_str();
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits = [0u8; 32];
    let mut n = 0;
    for b in mantissa.bytes().filter(u8::is_ascii_digit) {
        if n < digits.len() {
            digits[n] = b;
            n += 1;
        }
    }
    let digits = &digits[..n];
    if v < 0.0 {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push(digits[0] as char);
        if digits.len() > 1 {
            out.push('.');
            for &d in &digits[1..] {
                out.push(d as char);
            }
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        let _ = write!(out, "{e}");
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        for &d in digits {
            out.push(d as char);
        }
    } else {
        let int_len = exp as usize + 1;
        for i in 0..int_len {
            out.push(*digits.get(i).unwrap_or(&b'0') as char);
        }
        if digits.len() > int_len {
            out.push('.');
            for &d in &digits[int_len..] {
                out.push(d as char);
            }
        }
    }
}

/// A small string on the stack (the `{:e}` form of an f64 is at most 24 bytes).
struct StackStr {
    buf: [u8; 40],
    len: usize,
}

impl Default for StackStr {
    fn default() -> Self {
        StackStr {
            buf: [0; 40],
            len: 0,
        }
    }
}

impl StackStr {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("0")
    }
}

impl std::fmt::Write for StackStr {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Formats `v` like Go's `%v` for a `float64`.
pub fn float(v: f64) -> String {
    let mut s = String::new();
    push_float(&mut s, v);
    s
}

/// Appends `s` as a JSON string literal escaped exactly like Go's `encoding/json`.
///
/// Each byte of invalid UTF-8 becomes U+FFFD, as Go does.
pub fn push_json_string(out: &mut String, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\0'..='\u{1f}' => {
                    let cp = c as u32;
                    out.push_str("\\u");
                    for shift in [12, 8, 4, 0] {
                        out.push(HEX[((cp >> shift) & 0xf) as usize] as char);
                    }
                }
                c => out.push(c),
            }
        }
        // Go replaces each invalid byte on its own.
        for _ in chunk.invalid() {
            out.push_str("\\ufffd");
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go() {
        // Each expected string is what Go's fmt.Sprint prints for the value.
        for (v, want) in [
            (0.0, "0"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (100000.0, "100000"),
            (999999.0, "999999"),
            (1000000.0, "1e+06"),
            (1234567.5, "1.2345675e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000123, "0.000123"),
            (0.0000123, "1.23e-05"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (0.1 + 0.2, "0.30000000000000004"),
            (98.8977955911836, "98.8977955911836"),
            (3.4000000000000004, "3.4000000000000004"),
            (55.3844241807712, "55.3844241807712"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
        ] {
            assert_eq!(float(v), want, "{v:?}");
        }
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(f64::INFINITY), "+Inf");
    }

    #[test]
    fn json_strings_like_go() {
        let mut s = String::new();
        push_json_string(&mut s, b"cpu  1 2\n<a&b>\t\"q\"\\ \x01");
        assert_eq!(s, r#""cpu  1 2\n\u003ca\u0026b\u003e\t\"q\"\\ \u0001""#);
        let mut s = String::new();
        push_json_string(&mut s, b"\xff ok \xe2\x80\xa8 \xe2\x80!");
        assert_eq!(s, r#""\ufffd ok \u2028 \ufffd\ufffd!""#);
    }
}
