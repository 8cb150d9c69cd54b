//! The HTTP transport of `perfan record --server`: the batches of
//! [`perfcore::spool`] sent with a blocking client.
//!
//! - upload (default): `POST {server}/api/v1/performance/upload`, multipart
//!   `file` (a gzipped capture chunk) + `machine_id`, `Authorization: Bearer KEY`;
//!   200 `{"status":"success","records_processed":N,...}`.
//! - trickle (the older collector): `POST {server}/v1/trickle`, JSON
//!   `{"identifier":...,"measurements":[...]}`, header `apikey: KEY`;
//!   200 `{"error":null}`.
//!
//! What is retried: connection errors, timeouts, 5xx, 408 and 429 (after
//! `Retry-After` when given), and 401/403 (a key being fixed must not cost the
//! data). Any other 4xx is final: the batch is quarantined.

use std::time::Duration;

use perfcore::spool::{BatchKind, BatchMeta, Delivery, Transport};

use crate::config::Protocol;

/// Sends batches over HTTP.
pub struct HttpTransport {
    agent: ureq::Agent,
    url: String,
    api_key: String,
    machine_id: String,
    protocol: Protocol,
}

impl HttpTransport {
    /// A transport to `server` (its base URL) with a per-request `timeout`.
    pub fn new(
        server: &str,
        api_key: &str,
        machine_id: &str,
        protocol: Protocol,
        timeout: Duration,
    ) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(format!("perfan/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let path = match protocol {
            Protocol::Upload => "/api/v1/performance/upload",
            Protocol::Trickle => "/v1/trickle",
        };
        HttpTransport {
            agent,
            url: format!("{}{path}", server.trim_end_matches('/')),
            api_key: api_key.to_owned(),
            machine_id: machine_id.to_owned(),
            protocol,
        }
    }
}

/// A multipart/form-data body of `machine_id` and the gzipped capture `file`.
pub fn multipart_body(boundary: &str, machine_id: &str, meta: &BatchMeta, gz: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(gz.len() + 512);
    let name: String = machine_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    b.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"machine_id\"\r\n\r\n{machine_id}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}-{}-{}.json.gz\"\r\n\
             Content-Type: application/gzip\r\n\r\n",
            meta.first_ts, meta.last_ts
        )
        .as_bytes(),
    );
    b.extend_from_slice(gz);
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    b
}

/// A boundary that does not occur in `body`.
fn boundary_for(body: &[u8], seed: u64) -> String {
    let mut n = seed;
    loop {
        let b = format!("perfan-{n:016x}{:016x}", n.rotate_left(17) ^ 0x5bd1_e995);
        if !body.windows(b.len()).any(|w| w == b.as_bytes()) {
            return b;
        }
        n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    }
}

/// Seconds of a `Retry-After` header (the HTTP-date form is not used by our server).
fn retry_after(v: Option<&str>) -> Option<Duration> {
    v?.trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s.min(3600)))
}

/// What an answer means for the batch.
pub fn classify(status: u16, body: &str, retry_after_header: Option<&str>) -> Delivery {
    let snippet: String = body
        .chars()
        .take(200)
        .collect::<String>()
        .replace(['\n', '\r'], " ");
    match status {
        200..=299 => Delivery::Accepted,
        408 | 429 | 500..=599 => Delivery::Retry {
            reason: format!("HTTP {status}: {snippet}"),
            after: retry_after(retry_after_header),
        },
        401 | 403 => Delivery::Retry {
            reason: format!("HTTP {status} (check the API key): {snippet}"),
            after: None,
        },
        _ => Delivery::Rejected {
            reason: format!("HTTP {status}: {snippet}"),
        },
    }
}

impl Transport for HttpTransport {
    fn send(&mut self, meta: &BatchMeta, body: &[u8]) -> Delivery {
        let req = self.agent.post(&self.url);
        let result = match (self.protocol, meta.kind) {
            (Protocol::Upload, BatchKind::CaptureGzip) => {
                let boundary = boundary_for(body, perfcore::reader::monotonic_ns());
                let payload = multipart_body(&boundary, &self.machine_id, meta, body);
                req.header("Authorization", &format!("Bearer {}", self.api_key))
                    .content_type(format!("multipart/form-data; boundary={boundary}"))
                    .send(&payload[..])
            }
            (Protocol::Trickle, BatchKind::TrickleJson) => req
                .header("apikey", &self.api_key)
                .content_type("application/json")
                .send(body),
            (p, k) => {
                return Delivery::Rejected {
                    reason: format!("a {k:?} batch cannot be sent with the {p:?} protocol"),
                };
            }
        };
        match result {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let ra = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let text = resp
                    .body_mut()
                    .with_config()
                    .limit(1 << 20)
                    .read_to_string()
                    .unwrap_or_default();
                if self.protocol == Protocol::Trickle && status == 200 {
                    // The older daemon answers 200 with {"error": "..."} when it refuses.
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
                        && let Some(err) = v.get("error").and_then(|e| e.as_str())
                    {
                        return Delivery::Rejected {
                            reason: format!("trickle refused: {err}"),
                        };
                    }
                }
                classify(status, &text, ra.as_deref())
            }
            Err(e) => Delivery::Retry {
                reason: e.to_string(),
                after: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(classify(200, "{}", None), Delivery::Accepted);
        assert!(matches!(
            classify(503, "down", Some("7")),
            Delivery::Retry { after: Some(d), .. } if d == Duration::from_secs(7)
        ));
        assert!(matches!(classify(429, "", None), Delivery::Retry { .. }));
        assert!(matches!(classify(401, "", None), Delivery::Retry { .. }));
        assert!(matches!(
            classify(400, "{\"error\":\"line 3\"}", None),
            Delivery::Rejected { reason } if reason == "HTTP 400: {\"error\":\"line 3\"}"
        ));
        assert!(matches!(classify(413, "", None), Delivery::Rejected { .. }));
    }

    #[test]
    fn multipart_layout() {
        let meta = BatchMeta::capture(2, 10, 20);
        let body = multipart_body("BND", "m 1", &meta, b"GZ");
        let text = String::from_utf8(body).unwrap();
        assert_eq!(
            text,
            "--BND\r\nContent-Disposition: form-data; name=\"machine_id\"\r\n\r\nm 1\r\n\
             --BND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"m_1-10-20.json.gz\"\r\n\
             Content-Type: application/gzip\r\n\r\nGZ\r\n--BND--\r\n"
        );
    }

    #[test]
    fn boundary_avoids_the_body() {
        let b = boundary_for(b"abc", 1);
        let body = format!("xx{b}yy");
        assert_ne!(boundary_for(body.as_bytes(), 1), b);
    }
}
