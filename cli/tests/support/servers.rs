//! Real servers for tests, started on 127.0.0.1 and stopped on drop: moto's S3 server
//! (PyPI `moto[server]`) and the tansu Kafka broker (`cargo install tansu --locked
//! --features dynostore`), both installed by `.ci/run`. Outside CI a missing server
//! skips the test with a message; in CI (CI set) it fails it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed on drop.
pub struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(cmd: &mut Command, what: &str, install: &str) -> Option<Process> {
    match cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
        Ok(c) => Some(Process(c)),
        Err(e) => {
            assert!(
                std::env::var("CI").is_err(),
                "{what} is required in CI: {e}"
            );
            eprintln!("SKIPPED: {what} not found ({e}); {install} to run this test");
            None
        }
    }
}

fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// moto's S3 server.
pub struct Moto {
    _process: Process,
    /// Its port.
    pub port: u16,
}

impl Moto {
    /// Starts it; `None` (skipped) when moto is not installed outside CI.
    pub fn start() -> Option<Moto> {
        let port = free_port();
        let p = spawn(
            Command::new("moto_server").args(["-H", "127.0.0.1", "-p", &port.to_string()]),
            "moto_server",
            "`pip install 'moto[server]'`",
        )?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let m = Moto { _process: p, port };
        while m.http("GET", "/").is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(m)
    }

    /// An unsigned request (moto accepts them); the whole response.
    pub fn http(&self, method: &str, path: &str) -> std::io::Result<String> {
        let port = self.port;
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    }

    /// Environment for an S3 client of this server.
    pub fn env(&self) -> Vec<(String, String)> {
        let url = format!("http://127.0.0.1:{}", self.port);
        [
            ("AWS_ENDPOINT_URL", url.as_str()),
            ("AWS_ENDPOINT", url.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

/// A tansu Kafka broker.
pub struct Tansu {
    process: Option<Process>,
    /// Its port.
    pub port: u16,
    storage: String,
    env: Vec<(String, String)>,
}

impl Tansu {
    /// A broker with in-memory storage (gone when it stops).
    pub fn memory() -> Option<Tansu> {
        Tansu::start("memory://tansu/".into(), Vec::new())
    }

    /// A broker storing in a bucket of `moto` (survives a restart).
    pub fn on_s3(moto: &Moto, bucket: &str) -> Option<Tansu> {
        let r = moto.http("PUT", &format!("/{bucket}")).unwrap();
        assert!(
            r.starts_with("HTTP/1.1 200"),
            "creating bucket {bucket}: {r}"
        );
        Tansu::start(format!("s3://{bucket}/"), moto.env())
    }

    fn start(storage: String, env: Vec<(String, String)>) -> Option<Tansu> {
        let mut t = Tansu {
            process: None,
            port: free_port(),
            storage,
            env,
        };
        t.process = Some(t.spawn()?);
        Some(t)
    }

    fn spawn(&self) -> Option<Process> {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let p = spawn(
            Command::new("tansu")
                .args([
                    "broker",
                    "--listener-url",
                    &url,
                    "--advertised-listener-url",
                    &url,
                ])
                .args(["--storage-engine", &self.storage])
                .envs(self.env.iter().map(|(k, v)| (k, v))),
            "tansu",
            "`cargo install tansu --locked --features dynostore`",
        )?;
        wait_listening(self.port, "tansu");
        Some(p)
    }

    /// Stops the broker (kill) and starts it again on the same port and storage.
    pub fn restart(&mut self) {
        self.process = None;
        std::thread::sleep(Duration::from_millis(300));
        self.process = self.spawn();
    }

    /// `kafka://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("kafka://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}
