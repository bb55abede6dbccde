//! The embedded webserver (Falco's `falco_webserver`, cpp-httplib): `GET <k8s_healthz_endpoint>`
//! answers `{"status": "ok"}` from the moment it starts, `GET /versions` the versions object,
//! and `GET /metrics` the Prometheus text once the event sources are open (404 before, and
//! when Prometheus metrics are off). Anything else is an empty 404. Runs on the caller's tokio
//! runtime, over HTTPS with `webserver.ssl_enabled`; knows nothing about how the metrics body
//! is produced.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};

/// Produces the `/metrics` body on each request.
pub type MetricsFn = Arc<dyn Fn() -> String + Send + Sync>;

/// Webserver errors, worded as Falco's exceptions.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("an error occurred while starting webserver")]
    Start {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid webserver configuration")]
    InvalidConfig { reason: String },
}

/// What the server serves.
#[derive(Clone)]
pub struct Routes {
    pub healthz: String,
    pub versions: String,
    /// `Some` when `metrics.enabled` and `webserver.prometheus_metrics_enabled`.
    pub metrics: Option<MetricsFn>,
    /// Set when the event sources are open; `/metrics` answers 404 until then.
    pub metrics_ready: Arc<AtomicBool>,
}

fn response(status: StatusCode, content_type: Option<&str>, body: String) -> Response<Full<Bytes>> {
    let mut b = Response::builder()
        .status(status)
        .header("Keep-Alive", "timeout=5, max=100");
    if let Some(ct) = content_type {
        b = b.header("Content-Type", ct);
    }
    b.body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// Routes one request.
pub fn handle(routes: &Routes, method: &Method, path: &str) -> Response<Full<Bytes>> {
    if method == Method::GET {
        if path == routes.healthz {
            return response(
                StatusCode::OK,
                Some("application/json"),
                "{\"status\": \"ok\"}".to_string(),
            );
        }
        if path == "/versions" {
            return response(
                StatusCode::OK,
                Some("application/json"),
                routes.versions.clone(),
            );
        }
        if path == "/metrics"
            && let Some(f) = &routes.metrics
            && routes.metrics_ready.load(Ordering::SeqCst)
        {
            return response(StatusCode::OK, Some("text/plain; version=0.0.4"), f());
        }
    }
    response(StatusCode::NOT_FOUND, None, String::new())
}

/// A running webserver; dropping it (or [`Webserver::stop`]) stops accepting.
pub struct Webserver {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub local_addr: SocketAddr,
}

impl Webserver {
    /// Binds `address:port` and serves `routes` on `rt`, over HTTPS when `ssl_certificate`
    /// (one PEM file with the certificate chain and the private key) is given.
    pub fn start(
        rt: &tokio::runtime::Handle,
        address: &str,
        port: u16,
        ssl_certificate: Option<&str>,
        routes: Routes,
    ) -> Result<Webserver, ServerError> {
        let tls = match ssl_certificate {
            Some(pem) => Some(tokio_rustls::TlsAcceptor::from(
                crate::output::tls::server_config(pem).map_err(|e| ServerError::InvalidConfig {
                    reason: e.to_string(),
                })?,
            )),
            None => None,
        };
        let ip: std::net::IpAddr = address
            .trim()
            .split('%')
            .next()
            .unwrap_or("")
            .parse()
            .map_err(|e| ServerError::Start {
                address: address.to_string(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
            })?;
        let addr = SocketAddr::new(ip, port);
        let std_listener =
            std::net::TcpListener::bind(addr).map_err(|source| ServerError::Start {
                address: addr.to_string(),
                source,
            })?;
        std_listener
            .set_nonblocking(true)
            .map_err(|source| ServerError::Start {
                address: addr.to_string(),
                source,
            })?;
        let local_addr = std_listener
            .local_addr()
            .map_err(|source| ServerError::Start {
                address: addr.to_string(),
                source,
            })?;
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let task = rt.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                return;
            };
            loop {
                tokio::select! {
                    _ = &mut rx => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let routes = routes.clone();
                        let tls = tls.clone();
                        tokio::spawn(async move {
                            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                                let resp = handle(&routes, req.method(), req.uri().path());
                                async move { Ok::<_, Infallible>(resp) }
                            });
                            let http = hyper::server::conn::http1::Builder::new();
                            match tls {
                                Some(acceptor) => {
                                    let Ok(stream) = acceptor.accept(stream).await else {
                                        return;
                                    };
                                    let io = hyper_util::rt::TokioIo::new(stream);
                                    let _ = http.serve_connection(io, svc).await;
                                }
                                None => {
                                    let io = hyper_util::rt::TokioIo::new(stream);
                                    let _ = http.serve_connection(io, svc).await;
                                }
                            }
                        });
                    }
                }
            }
        });
        Ok(Webserver {
            shutdown: Some(tx),
            task: Some(task),
            local_addr,
        })
    }

    /// Stops accepting connections.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl Drop for Webserver {
    fn drop(&mut self) {
        self.halt();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn reference(name: &str) -> String {
        let p = crate::test_support::shared_dir()
            .join("conformance/goldens/webserver-reference")
            .join(name);
        std::fs::read_to_string(p).unwrap()
    }

    fn get(addr: SocketAddr, path: &str) -> (String, String) {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        (head.to_string(), body.to_string())
    }

    #[test]
    fn endpoints_answer_like_falco() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let ready = Arc::new(AtomicBool::new(false));
        let routes = Routes {
            healthz: "/healthz".into(),
            versions: crate::version::versions_json(&[("container", "0.7.1")]),
            metrics: Some(Arc::new(|| "m 1\n".to_string())),
            metrics_ready: Arc::clone(&ready),
        };
        let ws = Webserver::start(rt.handle(), "127.0.0.1", 0, None, routes).unwrap();
        let addr = ws.local_addr;

        let (head, body) = get(addr, "/healthz");
        assert!(head.starts_with("HTTP/1.1 200 OK"));
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json")
        );
        assert_eq!(body, reference("healthz.body"));

        let (_, body) = get(addr, "/versions");
        assert_eq!(body, reference("versions.body"));

        // /metrics only after the sources are open.
        let (head, _) = get(addr, "/metrics");
        assert!(head.starts_with("HTTP/1.1 404"));
        ready.store(true, Ordering::SeqCst);
        let (head, body) = get(addr, "/metrics");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4")
        );
        assert_eq!(body, "m 1\n");

        let (head, body) = get(addr, "/nope");
        assert!(head.starts_with("HTTP/1.1 404 Not Found"));
        assert_eq!(body, reference("404.body"));
        ws.stop();
    }

    #[test]
    fn bind_failure_is_falcos_error() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let routes = Routes {
            healthz: "/healthz".into(),
            versions: String::new(),
            metrics: None,
            metrics_ready: Arc::new(AtomicBool::new(false)),
        };
        let e = Webserver::start(rt.handle(), "127.0.0.1", port, None, routes)
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "an error occurred while starting webserver");
    }
}
