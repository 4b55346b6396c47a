//! kubelet's `httpGet` probe: one GET with the probe's timeout; success is a status in
//! 200..400, as kubelet counts it.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An `httpGet` liveness probe of one container, on the host port its container port maps to.
#[derive(Debug, Clone)]
pub struct HttpProbe {
    pub port: u16,
    pub path: String,
    pub timeout: Duration,
    pub period: Duration,
    pub initial_delay: Duration,
    pub failure_threshold: u32,
}

impl HttpProbe {
    /// One probe: `Ok` when it would count as a success.
    pub async fn check(&self) -> Result<()> {
        let attempt = async {
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
            let request = format!(
                "GET {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUser-Agent: kube-probe/1.33\r\nConnection: close\r\n\r\n",
                self.path, self.port
            );
            stream.write_all(request.as_bytes()).await?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await?;
            anyhow::Ok(response)
        };
        let response = tokio::time::timeout(self.timeout, attempt)
            .await
            .with_context(|| format!("GET :{}{} timed out", self.port, self.path))?
            .with_context(|| format!("GET :{}{}", self.port, self.path))?;
        let text = String::from_utf8_lossy(&response);
        let status: u16 = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("GET :{}{}: not an HTTP answer", self.port, self.path))?;
        ensure!(
            (200..400).contains(&status),
            "GET :{}{} answered {status}",
            self.port,
            self.path
        );
        Ok(())
    }
}
