//! The output channels of falco.yaml, each a [`Sink`] called by the outputs worker in Falco's
//! fixed order (file, stdout, syslog, program, http). Sinks that write bytes are generic over
//! the writer so tests run them against a `Vec<u8>`.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::process::{Child, ChildStdin, Command, Stdio};

use crate::config::{HttpOutput, OutputChannel, Priority};

/// A sink failure, logged by the worker as `<sink name>: <message>`.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("failed to open output file {path}")]
    OpenFile { path: String },
    #[error("Failed to open program output: {program} (error: {source})")]
    OpenProgram {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("libcurl failed to perform call: {0}")]
    Http(String),
}

/// One output channel.
pub trait Sink: Send {
    /// Falco's name of the channel (`stdout`, `file`, ...).
    fn name(&self) -> &'static str;
    /// Delivers one message (text line or JSON document, no trailing newline).
    fn emit(&mut self, msg: &str, priority: Priority) -> Result<(), SinkError>;
    /// SIGUSR1: file and program outputs close and reopen; the others ignore it.
    fn reopen(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    /// Flushes buffered bytes (shutdown).
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// stdout (or any writer): `msg + "\n"`, flushed per message unless buffered.
pub struct WriterSink<W: Write + Send> {
    out: W,
    buffered: bool,
}

impl<W: Write + Send> WriterSink<W> {
    pub fn new(out: W, buffered: bool) -> Self {
        WriterSink { out, buffered }
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write + Send> Sink for WriterSink<W> {
    fn name(&self) -> &'static str {
        "stdout"
    }

    fn emit(&mut self, msg: &str, _: Priority) -> Result<(), SinkError> {
        self.out.write_all(msg.as_bytes())?;
        self.out.write_all(b"\n")?;
        if !self.buffered {
            self.out.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(self.out.flush()?)
    }
}

/// `file_output`: append mode; closed after every message unless keep_alive.
pub struct FileSink {
    path: String,
    keep_alive: bool,
    buffered: bool,
    file: Option<BufWriter<File>>,
}

impl FileSink {
    pub fn new(path: &str, keep_alive: bool, buffered: bool) -> Self {
        FileSink {
            path: path.to_string(),
            keep_alive,
            buffered,
            file: None,
        }
    }

    fn open(&mut self) -> Result<&mut BufWriter<File>, SinkError> {
        if self.file.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|_| SinkError::OpenFile {
                    path: self.path.clone(),
                })?;
            self.file = Some(BufWriter::new(f));
        }
        Ok(self.file.as_mut().expect("just opened"))
    }
}

impl Sink for FileSink {
    fn name(&self) -> &'static str {
        "file"
    }

    fn emit(&mut self, msg: &str, _: Priority) -> Result<(), SinkError> {
        let buffered = self.buffered && self.keep_alive;
        let f = self.open()?;
        f.write_all(msg.as_bytes())?;
        f.write_all(b"\n")?;
        if !buffered {
            f.flush()?;
        }
        if !self.keep_alive {
            self.file = None;
        }
        Ok(())
    }

    fn reopen(&mut self) -> Result<(), SinkError> {
        if let Some(mut f) = self.file.take() {
            f.flush()?;
        }
        if self.keep_alive {
            self.open()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if let Some(f) = self.file.as_mut() {
            f.flush()?;
        }
        Ok(())
    }
}

/// `program_output`: `/bin/sh -c <program>` fed on stdin; one process per message unless
/// keep_alive (then one long-lived process, restarted by SIGUSR1).
pub struct ProgramSink {
    program: String,
    keep_alive: bool,
    buffered: bool,
    child: Option<(Child, BufWriter<ChildStdin>)>,
}

impl ProgramSink {
    pub fn new(program: &str, keep_alive: bool, buffered: bool) -> Self {
        ProgramSink {
            program: program.to_string(),
            keep_alive,
            buffered,
            child: None,
        }
    }

    fn open(&mut self) -> Result<&mut BufWriter<ChildStdin>, SinkError> {
        if self.child.is_none() {
            let mut child = Command::new("/bin/sh")
                .arg("-c")
                .arg(&self.program)
                .stdin(Stdio::piped())
                .spawn()
                .map_err(|source| SinkError::OpenProgram {
                    program: self.program.clone(),
                    source,
                })?;
            let stdin = child.stdin.take().expect("stdin is piped");
            self.child = Some((child, BufWriter::new(stdin)));
        }
        Ok(&mut self.child.as_mut().expect("just opened").1)
    }

    fn close(&mut self) -> Result<(), SinkError> {
        if let Some((mut child, mut stdin)) = self.child.take() {
            let _ = stdin.flush();
            drop(stdin);
            child.wait()?;
        }
        Ok(())
    }
}

impl Sink for ProgramSink {
    fn name(&self) -> &'static str {
        "program"
    }

    fn emit(&mut self, msg: &str, _: Priority) -> Result<(), SinkError> {
        let buffered = self.buffered;
        let w = self.open()?;
        w.write_all(msg.as_bytes())?;
        w.write_all(b"\n")?;
        if !buffered {
            w.flush()?;
        }
        if !self.keep_alive {
            self.close()?;
        }
        Ok(())
    }

    fn reopen(&mut self) -> Result<(), SinkError> {
        self.close()?;
        if self.keep_alive {
            self.open()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.close()
    }
}

impl Drop for ProgramSink {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// `syslog_output`: `syslog(priority, "%s", msg)`, default ident and facility; works (and
/// silently loses the message, as glibc does) when there is no `/dev/log`.
pub struct SyslogSink;

impl Sink for SyslogSink {
    fn name(&self) -> &'static str {
        "syslog"
    }

    fn emit(&mut self, msg: &str, priority: Priority) -> Result<(), SinkError> {
        if let Ok(c) = std::ffi::CString::new(msg.replace('\0', "")) {
            // SAFETY: format and argument are valid NUL-terminated strings for the call.
            unsafe {
                libc::syslog(
                    libc::c_int::from(priority.number()),
                    c"%s".as_ptr(),
                    c.as_ptr(),
                )
            };
        }
        Ok(())
    }
}

/// `http_output`: one POST per message with the message as body, `Content-Type:
/// application/json` (json_output) or `text/plain`, and the configured `User-Agent`. The
/// response status is not checked (as Falco); with `echo` the response body goes to stdout.
/// Like Falco's one curl handle, the sink keeps its connection (plain or TLS) across messages
/// and reconnects when the server closed it; `keep_alive` adds TCP keep-alive probes
/// (`CURLOPT_TCP_KEEPALIVE`, 60 s idle).
pub struct HttpSink {
    cfg: HttpOutput,
    content_type: &'static str,
    /// TLS client settings, for `https://` URLs.
    tls: Option<std::sync::Arc<tokio_rustls::rustls::ClientConfig>>,
    runtime: tokio::runtime::Runtime,
    /// The open TLS connection, reused by the next message.
    tls_conn: std::sync::Mutex<Option<TlsSender>>,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    >,
}

type TlsSender = hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>;

/// libcurl's keep-alive idle time and probe interval (`CURLOPT_TCP_KEEPIDLE`/`KEEPINTVL`).
const TCP_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(60);

/// Turns on TCP keep-alive probes on a connected socket.
fn set_tcp_keepalive(tcp: &tokio::net::TcpStream) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = tcp.as_raw_fd();
    let secs = TCP_KEEPALIVE.as_secs() as libc::c_int;
    for (level, name, value) in [
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1),
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, secs),
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, secs),
    ] {
        // SAFETY: `fd` is an open socket owned by `tcp`; the option value is a live c_int.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&raw const value).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

impl HttpSink {
    pub fn new(cfg: &HttpOutput, json_output: bool) -> Result<Self, SinkError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        if cfg.keep_alive {
            connector.set_keepalive(Some(TCP_KEEPALIVE));
        }
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        let tls = if cfg.url.starts_with("https://") {
            Some(
                super::tls::client_config(cfg)
                    .map_err(|e| SinkError::Http(format!("Problem with the SSL CA cert ({e})")))?,
            )
        } else {
            None
        };
        Ok(HttpSink {
            cfg: cfg.clone(),
            tls,
            content_type: if json_output {
                "application/json"
            } else {
                "text/plain"
            },
            runtime,
            tls_conn: std::sync::Mutex::new(None),
            client,
        })
    }

    fn request(
        &self,
        msg: &str,
    ) -> Result<hyper::Request<http_body_util::Full<bytes::Bytes>>, String> {
        let mut req = hyper::Request::post(&self.cfg.url)
            .header("Content-Type", self.content_type)
            .header("User-Agent", &self.cfg.user_agent)
            .header("Accept", "*/*");
        if self.cfg.compress_uploads {
            req = req.header("TE", "gzip").header("Connection", "TE");
        }
        req.body(http_body_util::Full::new(bytes::Bytes::from(
            msg.to_string(),
        )))
        .map_err(|e| format!("URL using bad/illegal format or missing URL ({e})"))
    }

    /// A new TLS connection to the URL's host.
    async fn connect_tls(
        &self,
        config: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
        uri: &hyper::Uri,
    ) -> Result<TlsSender, String> {
        let host = uri
            .host()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_string();
        let port = uri.port_u16().unwrap_or(443);
        let tcp = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await
        .map_err(|_| format!("{TIMEOUT_REACHED} (connect)"))?
        .map_err(|e| format!("Couldn't connect to server ({e})"))?;
        if self.cfg.keep_alive {
            set_tcp_keepalive(&tcp).map_err(|e| format!("Couldn't connect to server ({e})"))?;
        }
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host)
            .map_err(|e| format!("URL using bad/illegal format or missing URL ({e})"))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("SSL connect error ({e})"))?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .map_err(|e| format!("SSL connect error ({e})"))?;
        tokio::spawn(conn);
        Ok(sender)
    }

    /// One POST over TLS, on the kept connection when it is still open (a request that fails
    /// on a kept connection is sent once more on a new one, as curl does).
    async fn post_tls(
        &self,
        config: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
        msg: &str,
    ) -> Result<bytes::Bytes, String> {
        use http_body_util::BodyExt;
        let uri: hyper::Uri = self
            .cfg
            .url
            .parse()
            .map_err(|e| format!("URL using bad/illegal format or missing URL ({e})"))?;
        let kept = self
            .tls_conn
            .lock()
            .map_or(None, |mut c| c.take())
            .filter(|s| !s.is_closed());
        let mut reused = kept.is_some();
        let mut sender = match kept {
            Some(s) => s,
            None => {
                self.connect_tls(std::sync::Arc::clone(&config), &uri)
                    .await?
            }
        };
        loop {
            let mut req = self.request(msg)?;
            // A direct connection takes the origin form (`POST /path HTTP/1.1`).
            if let Some(pq) = uri.path_and_query()
                && let Ok(origin) = pq.as_str().parse::<hyper::Uri>()
            {
                *req.uri_mut() = origin;
            }
            if let Some(authority) = uri.authority()
                && let Ok(v) = hyper::header::HeaderValue::from_str(authority.as_str())
            {
                req.headers_mut().insert(hyper::header::HOST, v);
            }
            let sent = match sender.ready().await {
                Ok(()) => sender.send_request(req).await,
                Err(e) => Err(e),
            };
            let resp = match sent {
                Ok(resp) => resp,
                Err(_) if reused => {
                    reused = false;
                    sender = self
                        .connect_tls(std::sync::Arc::clone(&config), &uri)
                        .await?;
                    continue;
                }
                Err(e) => return Err(format!("Failure when receiving data from the peer ({e})")),
            };
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("Failure when receiving data from the peer ({e})"))?;
            if !sender.is_closed()
                && let Ok(mut c) = self.tls_conn.lock()
            {
                *c = Some(sender);
            }
            return Ok(body.to_bytes());
        }
    }

    async fn post(&self, msg: &str) -> Result<bytes::Bytes, String> {
        use http_body_util::BodyExt;
        if let Some(config) = &self.tls {
            return self.post_tls(std::sync::Arc::clone(config), msg).await;
        }
        let req = self.request(msg)?;
        let resp = self.client.request(req).await.map_err(|e| {
            let detail = format!("{e:?}");
            if detail.contains("timed out") || detail.contains("Timeout") {
                format!("{TIMEOUT_REACHED} ({e})")
            } else {
                format!("Couldn't connect to server ({e})")
            }
        })?;
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("Failure when receiving data from the peer ({e})"))?;
        Ok(body.to_bytes())
    }
}

impl Sink for HttpSink {
    fn name(&self) -> &'static str {
        "http"
    }

    fn emit(&mut self, msg: &str, _: Priority) -> Result<(), SinkError> {
        if !self.cfg.url.starts_with("http://") && !self.cfg.url.starts_with("https://") {
            return Err(SinkError::Http(format!(
                "Unsupported protocol ({})",
                self.cfg.url
            )));
        }
        let max = self.cfg.max_consecutive_timeouts;
        let body = retry_timeouts(max, || self.runtime.block_on(self.post(msg)))
            .map_err(SinkError::Http)?;
        if self.cfg.echo {
            let mut out = std::io::stdout().lock();
            out.write_all(&body)?;
            out.flush()?;
        }
        Ok(())
    }
}

/// libcurl's default connect timeout (CURLOPT_CONNECTTIMEOUT is not set by Falco).
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// libcurl's text for CURLE_OPERATION_TIMEDOUT.
const TIMEOUT_REACHED: &str = "Timeout was reached";

/// `http_output.max_consecutive_timeouts`: a call that times out is repeated, up to `max + 1`
/// attempts in all; any other outcome ends the loop.
fn retry_timeouts<T>(max: u8, mut call: impl FnMut() -> Result<T, String>) -> Result<T, String> {
    let mut attempts = 0u16;
    loop {
        attempts += 1;
        match call() {
            Err(e) if e.starts_with(TIMEOUT_REACHED) && attempts <= u16::from(max) => continue,
            other => return other,
        }
    }
}

/// Builds the sinks of the enabled channels, in Falco's order.
pub fn build(
    channels: &[OutputChannel],
    json_output: bool,
    buffered: bool,
) -> Vec<Result<Box<dyn Sink>, SinkError>> {
    channels
        .iter()
        .map(|c| -> Result<Box<dyn Sink>, SinkError> {
            Ok(match c {
                OutputChannel::File {
                    filename,
                    keep_alive,
                } => Box::new(FileSink::new(filename, *keep_alive, buffered)),
                OutputChannel::Stdout => Box::new(WriterSink::new(std::io::stdout(), buffered)),
                OutputChannel::Syslog => Box::new(SyslogSink),
                OutputChannel::Program {
                    program,
                    keep_alive,
                } => Box::new(ProgramSink::new(program, *keep_alive, buffered)),
                OutputChannel::Http(cfg) => Box::new(HttpSink::new(cfg, json_output)?),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_retried_up_to_the_limit() {
        let mut n = 0;
        let r: Result<(), String> = retry_timeouts(5, || {
            n += 1;
            Err(format!("{TIMEOUT_REACHED} (connect)"))
        });
        assert!(r.is_err());
        assert_eq!(n, 6);
        let mut n = 0;
        let r: Result<(), String> = retry_timeouts(5, || {
            n += 1;
            Err("Couldn't connect to server".into())
        });
        assert!(r.is_err());
        assert_eq!(n, 1);
        let mut n = 0;
        let r = retry_timeouts(0, || {
            n += 1;
            if n < 3 {
                Err(TIMEOUT_REACHED.to_string())
            } else {
                Ok(n)
            }
        });
        assert_eq!((r, n), (Err(TIMEOUT_REACHED.to_string()), 1));
    }

    #[test]
    fn writer_sink_adds_newlines() {
        let mut s = WriterSink::new(Vec::new(), false);
        s.emit("a", Priority::Warning).unwrap();
        s.emit("{\"b\":1}", Priority::Debug).unwrap();
        assert_eq!(s.into_inner(), b"a\n{\"b\":1}\n");
    }

    #[test]
    fn file_sink_appends_and_reopens_after_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.txt");
        std::fs::write(&path, "old\n").unwrap();
        let p = path.to_str().unwrap();
        let mut s = FileSink::new(p, true, false);
        s.emit("one", Priority::Warning).unwrap();
        // logrotate-style: move the file away, then SIGUSR1.
        let rotated = dir.path().join("events.txt.1");
        std::fs::rename(&path, &rotated).unwrap();
        s.emit("two", Priority::Warning).unwrap();
        s.reopen().unwrap();
        s.emit("three", Priority::Warning).unwrap();
        assert_eq!(
            std::fs::read_to_string(&rotated).unwrap(),
            "old\none\ntwo\n"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three\n");

        let mut s = FileSink::new(p, false, false);
        s.emit("four", Priority::Warning).unwrap();
        assert!(s.file.is_none());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three\nfour\n");
    }

    #[test]
    fn file_sink_open_failure() {
        let mut s = FileSink::new("/nonexistent-dir/x/events.txt", false, false);
        let e = s.emit("a", Priority::Warning).unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to open output file /nonexistent-dir/x/events.txt"
        );
    }

    #[test]
    fn program_sink_feeds_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.txt");
        let prog = format!("cat >> {}", out.display());
        let mut s = ProgramSink::new(&prog, false, false);
        s.emit("one", Priority::Warning).unwrap();
        s.emit("two", Priority::Warning).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "one\ntwo\n");

        let mut s = ProgramSink::new(&prog, true, false);
        s.emit("three", Priority::Warning).unwrap();
        s.reopen().unwrap();
        s.emit("four", Priority::Warning).unwrap();
        s.flush().unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "one\ntwo\nthree\nfour\n"
        );
    }

    #[test]
    fn syslog_sink_never_fails() {
        assert!(
            SyslogSink
                .emit("falco-rs test message", Priority::Debug)
                .is_ok()
        );
    }

    /// A loopback HTTP server that records what it receives and answers `ok`.
    fn receiver() -> (String, std::sync::mpsc::Receiver<String>) {
        use std::io::{BufRead, BufReader, Read};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/alerts", listener.local_addr().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                let _ = tx.send(format!("{head}{}", String::from_utf8_lossy(&body)));
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
            }
        });
        (url, rx)
    }

    /// The TLS tests' HTTP output config, with the system CA path and keep-alive (the config
    /// defaults).
    fn http_cfg(url: &str) -> HttpOutput {
        HttpOutput {
            ca_path: "/etc/ssl/certs".into(),
            keep_alive: true,
            ..super::super::tls::tests::http_cfg(url)
        }
    }

    #[test]
    fn http_sink_posts_the_message() {
        let (url, rx) = receiver();
        let mut s = HttpSink::new(&http_cfg(&url), true).unwrap();
        s.emit(r#"{"rule":"x"}"#, Priority::Warning).unwrap();
        let got = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        let lower = got.to_ascii_lowercase();
        assert!(got.starts_with("POST /alerts HTTP/1.1\r\n"), "{got}");
        assert!(
            lower.contains("content-type: application/json\r\n"),
            "{got}"
        );
        assert!(
            lower.contains("user-agent: falcosecurity/falco\r\n"),
            "{got}"
        );
        assert!(got.ends_with("\r\n\r\n{\"rule\":\"x\"}"), "{got}");

        let mut s = HttpSink::new(&http_cfg(&url), false).unwrap();
        s.emit("text alert", Priority::Warning).unwrap();
        let got = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        assert!(
            got.to_ascii_lowercase()
                .contains("content-type: text/plain\r\n"),
            "{got}"
        );
        assert!(got.ends_with("text alert"));
    }

    #[test]
    fn http_sink_reports_a_down_receiver() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut s = HttpSink::new(&http_cfg(&format!("http://127.0.0.1:{port}/")), true).unwrap();
        let e = s.emit("x", Priority::Warning).unwrap_err().to_string();
        assert!(e.starts_with("libcurl failed to perform call: "), "{e}");
    }

    type TlsReceiver = (
        String,
        std::sync::mpsc::Receiver<String>,
        tempfile::TempDir,
        String,
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
    );

    /// A TLS receiver on loopback: records the requests it receives and counts the
    /// connections; closes each connection after one answer unless `keep_open`.
    fn tls_receiver(keep_open: bool) -> Option<TlsReceiver> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (dir, cert, _key, combined) = crate::output::tls::tests::self_signed()?;
        let acceptor =
            tokio_rustls::TlsAcceptor::from(crate::output::tls::server_config(&combined).ok()?);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
        listener.set_nonblocking(true).ok()?;
        let url = format!(
            "https://localhost:{}/alerts",
            listener.local_addr().ok()?.port()
        );
        let (tx, rx) = std::sync::mpsc::channel();
        let conns = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = std::sync::Arc::clone(&conns);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((s, _)) = listener.accept().await else {
                        break;
                    };
                    let Ok(mut s) = acceptor.accept(s).await else {
                        continue;
                    };
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while let Ok(n) = s.read(&mut chunk).await {
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let text = String::from_utf8_lossy(&buf).into_owned();
                        if let Some((head, body)) = text.split_once("\r\n\r\n") {
                            let len = head
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                                })
                                .unwrap_or(0);
                            if body.len() >= len {
                                let _ = tx.send(format!("{head}\r\n\r\n{}", &body[..len]));
                                let _ = s
                                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                                    .await;
                                if !keep_open {
                                    let _ = s.shutdown().await;
                                    break;
                                }
                                let used = head.len() + 4 + len;
                                buf.drain(..used);
                            }
                        }
                    }
                }
            });
        });
        Some((url, rx, dir, cert, conns))
    }

    #[test]
    fn https_with_a_ca_and_insecure() {
        let (url, rx, _dir, cert, _) = tls_receiver(false).expect("openssl and a TLS receiver");
        let mut cfg = http_cfg(&url);
        cfg.ca_cert = cert;
        let mut s = HttpSink::new(&cfg, true).unwrap();
        s.emit("{\"rule\":\"tls\"}", Priority::Warning).unwrap();
        let got = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert!(got.starts_with("POST /alerts HTTP/1.1\r\n"), "{got}");
        assert!(got.ends_with("{\"rule\":\"tls\"}"), "{got}");

        // Without the CA the peer is refused; `insecure` skips verification.
        let mut cfg = http_cfg(&url);
        cfg.ca_path = "/nonexistent".into();
        let other = crate::output::tls::tests::self_signed().unwrap();
        cfg.ca_bundle = other.1.clone();
        let mut s = HttpSink::new(&cfg, true).unwrap();
        let e = s.emit("x", Priority::Warning).unwrap_err().to_string();
        assert!(
            e.starts_with("libcurl failed to perform call: SSL connect error"),
            "{e}"
        );
        let mut cfg = http_cfg(&url);
        cfg.insecure = true;
        let mut s = HttpSink::new(&cfg, false).unwrap();
        s.emit("insecure", Priority::Warning).unwrap();
        let got = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert!(got.ends_with("insecure"), "{got}");
    }

    /// Like Falco's one curl handle, messages share one TLS connection while the receiver
    /// keeps it open; a receiver that closes it after each answer gets a new one each time.
    #[test]
    fn https_reuses_its_connection() {
        for (keep_open, expected) in [(true, 1), (false, 3)] {
            let (url, rx, _dir, cert, conns) =
                tls_receiver(keep_open).expect("openssl and a TLS receiver");
            let mut cfg = http_cfg(&url);
            cfg.ca_cert = cert;
            cfg.keep_alive = keep_open;
            let mut s = HttpSink::new(&cfg, true).unwrap();
            for i in 0..3 {
                s.emit(&format!("{{\"n\":{i}}}"), Priority::Warning)
                    .unwrap();
                let got = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
                assert!(got.ends_with(&format!("{{\"n\":{i}}}")), "{got}");
            }
            assert_eq!(
                conns.load(std::sync::atomic::Ordering::SeqCst),
                expected,
                "keep_open={keep_open}"
            );
        }
    }

    /// Plain HTTP: one connection for several messages.
    #[test]
    fn http_reuses_its_connection() {
        use std::io::{BufRead, BufReader, Read};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/alerts", listener.local_addr().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { break };
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    loop {
                        let mut len = 0usize;
                        loop {
                            let mut line = String::new();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if let Some(v) =
                                line.to_ascii_lowercase().strip_prefix("content-length:")
                            {
                                len = v.trim().parse().unwrap_or(0);
                            }
                            if line == "\r\n" {
                                break;
                            }
                        }
                        let mut body = vec![0; len];
                        reader.read_exact(&mut body).unwrap();
                        let _ = tx.send((n, String::from_utf8_lossy(&body).into_owned()));
                        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
                    }
                });
            }
        });
        let mut cfg = http_cfg(&url);
        cfg.keep_alive = true;
        let mut s = HttpSink::new(&cfg, true).unwrap();
        let mut conns = std::collections::BTreeSet::new();
        for i in 0..3 {
            s.emit(&format!("{i}"), Priority::Warning).unwrap();
            let (n, body) = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
            assert_eq!(body, i.to_string());
            conns.insert(n);
        }
        assert_eq!(conns.len(), 1, "{conns:?}");
    }
}
