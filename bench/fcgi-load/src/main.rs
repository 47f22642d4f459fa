//! fcgi-load: a closed-loop FastCGI load generator that verifies every answer.
//!
//! It speaks FastCGI directly to a responder (unix socket or loopback TCP), the
//! way nginx does, with the params nginx sends for a GET and an empty body. Every
//! STDOUT is compared byte for byte with the expected answer, so a broken server
//! cannot look fast; requests that never get an answer are counted, and so are
//! the answers each connection got (to see starved connections).
//!
//! Output: one human-readable line, then one JSON line (for bench/fcgi-bench).
//! Exit status: 0 if every request was answered correctly, 1 if any failed or
//! went unanswered (the numbers are printed either way), 2 on a usage error.

mod codec;
mod hist;
mod load;
mod sys;

use std::io::Write;
use std::time::Duration;

const HELLO: &str = "Content-Type: text/plain\\r\\n\\r\\nHello World!\\n";

const USAGE: &str = "usage: fcgi-load [options] ADDRESS
  ADDRESS        unix socket path (contains '/') or loopback host:port
  -c N           concurrent connections, one request in flight each (default 1)
  -k on|off      FCGI_KEEP_CONN: on = reuse connections, off = one connection per request (default on)
  -d SECONDS     run duration (default 5, at most 3600)
  -n N           hard bound on requests issued (default 100000000)
  -t MS          per-request timeout in ms; slower requests count as unanswered (default 1000)
  -e STRING      expected STDOUT, with escapes \\r \\n \\t \\\\ \\xHH
                 (default: the smisk hello, \"Content-Type: text/plain\\r\\n\\r\\nHello World!\\n\")
  -q             print only the JSON line";

struct Args {
    target: String,
    conns: usize,
    keep_conn: bool,
    duration: f64,
    max_requests: u64,
    timeout_ms: u64,
    expected: Vec<u8>,
    quiet: bool,
}

fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = *b.get(i + 1).ok_or("trailing backslash in -e")?;
        i += 2;
        match c {
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'0' => out.push(0),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let hex = b.get(i..i + 2).ok_or("\\x needs two hex digits")?;
                let hex = std::str::from_utf8(hex).map_err(|_| "bad \\x escape")?;
                out.push(
                    u8::from_str_radix(hex, 16).map_err(|_| format!("bad \\x escape: {hex}"))?,
                );
                i += 2;
            }
            other => return Err(format!("unknown escape \\{}", other as char)),
        }
    }
    Ok(out)
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        target: String::new(),
        conns: 1,
        keep_conn: true,
        duration: 5.0,
        max_requests: 100_000_000,
        timeout_ms: 1000,
        expected: unescape(HELLO)?,
        quiet: false,
    };
    let mut it = std::env::args().skip(1);
    let mut target = None;
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-c" => a.conns = val("-c")?.parse().map_err(|_| "bad -c")?,
            "-k" => {
                a.keep_conn = match val("-k")?.as_str() {
                    "on" | "1" => true,
                    "off" | "0" => false,
                    v => return Err(format!("-k takes on or off, not {v}")),
                }
            }
            "-d" => a.duration = val("-d")?.parse().map_err(|_| "bad -d")?,
            "-n" => a.max_requests = val("-n")?.parse().map_err(|_| "bad -n")?,
            "-t" => a.timeout_ms = val("-t")?.parse().map_err(|_| "bad -t")?,
            "-e" => a.expected = unescape(&val("-e")?)?,
            "-q" => a.quiet = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s => {
                if target.replace(s.to_string()).is_some() {
                    return Err("more than one ADDRESS".into());
                }
            }
        }
    }
    a.target = target.ok_or("ADDRESS missing")?;
    if !(1..=10_000).contains(&a.conns) {
        return Err("-c must be 1..10000".into());
    }
    if !(a.duration > 0.0 && a.duration <= 3600.0) {
        return Err("-d must be in (0, 3600]".into());
    }
    if !(1..=600_000).contains(&a.timeout_ms) {
        return Err("-t must be 1..600000".into());
    }
    if a.max_requests == 0 {
        return Err("-n must be at least 1".into());
    }
    Ok(a)
}

/// The params nginx 1.22 sends for `GET /hello?name=world` with its stock
/// fastcgi_params plus SCRIPT_FILENAME (21 params, ~700 bytes).
fn nginx_get_params() -> Vec<(&'static [u8], &'static [u8])> {
    vec![
        (b"SCRIPT_FILENAME", b"/srv/www/hello"),
        (b"QUERY_STRING", b"name=world"),
        (b"REQUEST_METHOD", b"GET"),
        (b"CONTENT_TYPE", b""),
        (b"CONTENT_LENGTH", b""),
        (b"SCRIPT_NAME", b"/hello"),
        (b"REQUEST_URI", b"/hello?name=world"),
        (b"DOCUMENT_URI", b"/hello"),
        (b"DOCUMENT_ROOT", b"/srv/www"),
        (b"SERVER_PROTOCOL", b"HTTP/1.1"),
        (b"REQUEST_SCHEME", b"http"),
        (b"GATEWAY_INTERFACE", b"CGI/1.1"),
        (b"SERVER_SOFTWARE", b"nginx/1.22.1"),
        (b"REMOTE_ADDR", b"127.0.0.1"),
        (b"REMOTE_PORT", b"53412"),
        (b"SERVER_ADDR", b"127.0.0.1"),
        (b"SERVER_PORT", b"8080"),
        (b"SERVER_NAME", b"localhost"),
        (b"HTTP_HOST", b"127.0.0.1:8080"),
        (
            b"HTTP_USER_AGENT",
            b"curl/7.88.1 (fcgi-load; smisk benchmark)",
        ),
        (
            b"HTTP_ACCEPT",
            b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
    ]
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fcgi-load: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let target = match sys::Target::parse(&args.target) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("fcgi-load: {e}");
            std::process::exit(2);
        }
    };
    let request = match codec::encode_request(&nginx_get_params(), args.keep_conn) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fcgi-load: {e}");
            std::process::exit(2);
        }
    };
    let cfg = load::Config {
        target,
        conns: args.conns,
        keep_conn: args.keep_conn,
        duration: Duration::from_secs_f64(args.duration),
        max_requests: args.max_requests,
        timeout: Duration::from_millis(args.timeout_ms),
        expected: args.expected,
        request,
    };
    let result = load::Load::new(&cfg).and_then(|l| l.run());
    let st = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fcgi-load: {e}");
            std::process::exit(1);
        }
    };
    let secs = st.elapsed.as_secs_f64();
    let rps = if secs > 0.0 { st.ok as f64 / secs } else { 0.0 };
    let us = |q: f64| st.latency_ns.quantile(q) as f64 / 1000.0;
    let (p50, p90, p99, max) = (
        us(0.5),
        us(0.9),
        us(0.99),
        st.latency_ns.max() as f64 / 1000.0,
    );
    let min_c = st.per_conn.iter().copied().min().unwrap_or(0);
    let max_c = st.per_conn.iter().copied().max().unwrap_or(0);
    let never = st.per_conn.iter().filter(|&&n| n == 0).count();
    let keep = if cfg.keep_conn { "on" } else { "off" };
    // A closed stdout (| head) must not turn into a panic: results are best effort.
    let mut stdout = std::io::stdout().lock();
    if !args.quiet {
        let _ = writeln!(
            stdout,
            "fcgi-load {} c={} keep-conn={} {:.2}s: {} ok, {:.0} req/s, p50 {:.1} us, p99 {:.1} us, \
             errors {} (body {}, status {}, stderr {}, protocol {}, connect {}, dropped {} [keep-conn closed {}]), \
             unanswered {}, in flight at end {}, connects {}, answers per connection min {} max {} ({} never answered){}",
            args.target,
            cfg.conns,
            keep,
            secs,
            st.ok,
            rps,
            p50,
            p99,
            st.errors(),
            st.bad_body,
            st.bad_status,
            st.stderr,
            st.protocol_errors,
            st.connect_errors,
            st.dropped,
            st.keepconn_closed,
            st.unanswered,
            st.inflight_at_end,
            st.connects,
            min_c,
            max_c,
            never,
            st.first_error.as_deref().map(|e| format!("; first error: {e}")).unwrap_or_default(),
        );
    }
    let _ = writeln!(
        stdout,
        "{{\"target\":{},\"conns\":{},\"keep_conn\":{},\"elapsed_s\":{:.6},\"issued\":{},\"ok\":{},\"rps\":{:.1},\
         \"p50_us\":{:.2},\"p90_us\":{:.2},\"p99_us\":{:.2},\"max_us\":{:.2},\"errors\":{},\"bad_body\":{},\
         \"bad_status\":{},\"stderr\":{},\"protocol_errors\":{},\"connect_errors\":{},\"dropped\":{},\
         \"keepconn_closed\":{},\"released\":{},\"unanswered\":{},\"inflight_at_end\":{},\"connects\":{},\"connect_retries\":{},\
         \"per_conn_min\":{},\"per_conn_max\":{},\"conns_never_answered\":{},\"first_error\":{}}}",
        json_str(&args.target),
        cfg.conns,
        cfg.keep_conn,
        secs,
        st.issued,
        st.ok,
        rps,
        p50,
        p90,
        p99,
        max,
        st.errors(),
        st.bad_body,
        st.bad_status,
        st.stderr,
        st.protocol_errors,
        st.connect_errors,
        st.dropped,
        st.keepconn_closed,
        st.released,
        st.unanswered,
        st.inflight_at_end,
        st.connects,
        st.connect_retries,
        min_c,
        max_c,
        never,
        st.first_error.as_deref().map(json_str).unwrap_or_else(|| "null".into()),
    );
    let clean = st.errors() == 0 && st.unanswered == 0 && st.ok > 0;
    std::process::exit(if clean { 0 } else { 1 });
}
