//! `--data-dir s3://...` against a real S3-protocol server on 127.0.0.1: moto's server
//! (PyPI `moto[server]`, installed by `.ci/run`). Outside CI, a machine without it skips
//! with a message; in CI (CI=true) its absence fails the test.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/shop-incident");

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An unsigned S3 request; moto accepts them. Returns the status line.
fn http(port: u16, method: &str, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out.lines().next().unwrap_or_default().to_string())
}

fn start() -> Option<(Server, u16)> {
    let port = free_port();
    let child = match Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var("CI").is_err(),
                "moto_server is required in CI: {e}"
            );
            eprintln!(
                "SKIPPED: moto_server not found ({e}); `pip install 'moto[server]'` to run the S3 test"
            );
            return None;
        }
    };
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while http(port, "GET", "/").is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((server, port))
}

fn tapio(port: u16, args: &[&str]) -> (String, String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args(args)
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.success(),
    )
}

#[test]
fn history_on_s3() {
    let Some((_server, port)) = start() else {
        return;
    };
    assert!(
        http(port, "PUT", "/tapio-history").unwrap().contains("200"),
        "bucket creation"
    );
    let dir = "s3://tapio-history/prod/cluster-a";
    let (_, err, ok) = tapio(
        port,
        &["replay", EXAMPLE, "--output", "none", "--data-dir", dir],
    );
    assert!(ok, "{err}");
    assert!(!err.contains("stored 0 new rows"), "{err}");
    let (_, err, ok) = tapio(
        port,
        &["replay", EXAMPLE, "--output", "none", "--data-dir", dir],
    );
    assert!(
        ok && err.contains("stored 0 new rows"),
        "second replay must add nothing: {err}"
    );
    let (out, err, ok) = tapio(
        port,
        &[
            "sql",
            "--data-dir",
            dir,
            "--format",
            "csv",
            "SELECT count(*) AS n FROM stories",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "n\n3\n");
    // The objects are where the layout says.
    let listing = {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET /tapio-history?list-type=2&prefix=prod/cluster-a/stories/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").unwrap();
        let mut o = String::new();
        s.read_to_string(&mut o).unwrap();
        o
    };
    assert!(
        listing.contains("prod/cluster-a/stories/date=2026-11-20/part-"),
        "{listing}"
    );
}
