//! Times streamed chat completions from the client's side: the time to the first content chunk
//! (TTFT) and content chunks per second over the whole request. One request at a time, each on its own
//! connection, so the figures are the proxy's and not a queue's.
//!
//! Usage: `stream_probe HOST:PORT PATH BEARER MODEL REQUESTS`; prints one JSON line:
//! `{"ttft_ms":[...],"chunks":[...],"chunks_per_s":[...]}`.

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Sample {
    ttft: Duration,
    chunks: usize,
    chunks_per_s: f64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, path, bearer, model, requests] = args.as_slice() else {
        return Err("usage: stream_probe HOST:PORT PATH BEARER MODEL REQUESTS".into());
    };
    let requests: usize = requests.parse()?;
    let body = format!(
        r#"{{"model":"{model}","stream":true,"stream_options":{{"include_usage":true}},"messages":[{{"role":"user","content":"Say hello."}}]}}"#
    );
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {bearer}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut samples = Vec::with_capacity(requests);
    for _ in 0..requests {
        samples.push(one(addr, request.as_bytes()).await?);
    }
    let list = |f: &dyn Fn(&Sample) -> String| {
        samples.iter().map(f).collect::<Vec<_>>().join(",")
    };
    println!(
        r#"{{"ttft_ms":[{}],"chunks":[{}],"chunks_per_s":[{}]}}"#,
        list(&|s| format!("{:.3}", s.ttft.as_secs_f64() * 1e3)),
        list(&|s| s.chunks.to_string()),
        list(&|s| format!("{:.1}", s.chunks_per_s)),
    );
    Ok(())
}

async fn one(addr: &str, request: &[u8]) -> Result<Sample, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    stream.write_all(request).await?;
    let mut seen = Vec::with_capacity(64 * 1024);
    let mut buf = vec![0u8; 64 * 1024];
    let mut scanned = 0;
    let (mut first, mut last, mut chunks) = (None, None, 0usize);
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        let now = Instant::now();
        seen.extend_from_slice(&buf[..n]);
        let found = count_content(&seen, &mut scanned);
        if found > 0 {
            first.get_or_insert(now);
            last = Some(now);
            chunks += found;
        }
    }
    let head_end = seen.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
    let status_line = String::from_utf8_lossy(&seen[..seen.len().min(12)]).to_string();
    if !status_line.ends_with("200") || chunks == 0 {
        let text = String::from_utf8_lossy(&seen[..seen.len().min(head_end + 400)]);
        return Err(format!("no streamed content from {addr}: {text}").into());
    }
    let (Some(first), Some(last)) = (first, last) else {
        return Err("no content chunk".into());
    };
    Ok(Sample {
        ttft: first.duration_since(started),
        chunks,
        chunks_per_s: chunks as f64 / last.duration_since(started).as_secs_f64(),
    })
}

/// Counts `"content"` keys with a non-empty string value in `seen[*scanned..]`, leaving
/// `scanned` where a key cut off by the end of the read could still start.
fn count_content(seen: &[u8], scanned: &mut usize) -> usize {
    const KEY: &[u8] = b"\"content\"";
    let mut found = 0;
    let mut at = *scanned;
    while let Some(pos) = seen[at..].windows(KEY.len()).position(|w| w == KEY) {
        let value_start = at + pos + KEY.len();
        let Some(offset) = seen[value_start..]
            .iter()
            .position(|b| !matches!(b, b' ' | b':'))
        else {
            // The value is in the next read.
            *scanned = at + pos;
            return found;
        };
        let value = &seen[value_start + offset..];
        if value.len() < 2 {
            *scanned = at + pos;
            return found;
        }
        if value[0] == b'"' && value[1] != b'"' {
            found += 1;
        }
        at = value_start + offset;
    }
    *scanned = seen.len().saturating_sub(KEY.len());
    found
}
