//! [`ListenAddress`]: where an HTTP endpoint listens, written as Go's `net.Listen("tcp", addr)`
//! reads it, because the manifests of the kubernetes-csi sidecars (and ceph-csi's) pass
//! `--http-endpoint=:8080`: `:port` means every interface, `host:port` one address or name,
//! `[v6]:port` an IPv6 literal.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use tokio::net::TcpListener;

/// A TCP listen address. `host` is `None` for Go's empty host (`:8080`): all interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddress {
    host: Option<String>,
    port: u16,
}

/// Why a listen address was refused; the message states the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{address:?} is not a listen address ({reason}); use :PORT, HOST:PORT or [IPv6]:PORT")]
pub struct InvalidListenAddress {
    pub address: String,
    pub reason: &'static str,
}

impl ListenAddress {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `None` when listening on every interface.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// Binds as Go does: every interface is `[::]` (dual-stack on Linux), or `0.0.0.0` where
    /// the kernel has no IPv6; a host name is resolved first.
    ///
    /// # Errors
    /// The bind's (or the resolution's) I/O error.
    pub async fn bind(&self) -> std::io::Result<TcpListener> {
        match &self.host {
            None => match TcpListener::bind((Ipv6Addr::UNSPECIFIED, self.port)).await {
                Ok(listener) => Ok(listener),
                Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => Err(error),
                Err(_) => TcpListener::bind((Ipv4Addr::UNSPECIFIED, self.port)).await,
            },
            Some(host) => TcpListener::bind((host.as_str(), self.port)).await,
        }
    }
}

impl FromStr for ListenAddress {
    type Err = InvalidListenAddress;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| InvalidListenAddress {
            address: text.to_owned(),
            reason,
        };
        let (host, port) = text.rsplit_once(':').ok_or_else(|| invalid("no port"))?;
        let port = port
            .parse::<u16>()
            .map_err(|_| invalid("the port is not a number from 0 to 65535"))?;
        let host = if let Some(inner) = host.strip_prefix('[') {
            let literal = inner
                .strip_suffix(']')
                .ok_or_else(|| invalid("an unclosed '['"))?;
            literal
                .parse::<Ipv6Addr>()
                .map_err(|_| invalid("not an IPv6 address between the brackets"))?;
            Some(literal.to_owned())
        } else if host.contains(':') {
            return Err(invalid("an IPv6 address needs brackets"));
        } else if host.is_empty() {
            None
        } else if host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        {
            Some(host.to_owned())
        } else {
            return Err(invalid("the host is neither an address nor a name"));
        };
        Ok(Self { host, port })
    }
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            None => write!(f, ":{}", self.port),
            Some(host) if host.contains(':') => write!(f, "[{host}]:{}", self.port),
            Some(host) => write!(f, "{host}:{}", self.port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_spellings_parse_and_print_back() {
        for (text, host, port) in [
            (":8080", None, 8080),
            ("0.0.0.0:9090", Some("0.0.0.0"), 9090),
            ("127.0.0.1:0", Some("127.0.0.1"), 0),
            ("[::1]:8080", Some("::1"), 8080),
            ("[::]:80", Some("::"), 80),
            ("localhost:8080", Some("localhost"), 8080),
            ("csi-metrics.ns.svc:8443", Some("csi-metrics.ns.svc"), 8443),
        ] {
            let address: ListenAddress = text.parse().unwrap();
            assert_eq!(address.host(), host, "{text}");
            assert_eq!(address.port(), port, "{text}");
            assert_eq!(address.to_string(), text);
        }
    }

    #[test]
    fn malformed_addresses_are_refused_with_the_reason() {
        for (text, reason) in [
            ("8080", "no port"),
            ("", "no port"),
            (":http", "the port is not a number from 0 to 65535"),
            (":65536", "the port is not a number from 0 to 65535"),
            ("::1:8080", "an IPv6 address needs brackets"),
            ("[::1:8080", "an unclosed '['"),
            ("[nope]:80", "not an IPv6 address between the brackets"),
            ("a b:80", "the host is neither an address nor a name"),
        ] {
            let error = text.parse::<ListenAddress>().unwrap_err();
            assert_eq!(error.reason, reason, "{text}");
            assert!(error.to_string().contains(":PORT"), "{error}");
        }
    }

    #[tokio::test]
    async fn an_empty_host_listens_on_every_interface() {
        let listener = ":0".parse::<ListenAddress>().unwrap().bind().await.unwrap();
        let local = listener.local_addr().unwrap();
        assert!(local.ip().is_unspecified(), "{local}");
        // Reachable over IPv4 loopback too (dual-stack, or the IPv4 fallback).
        tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, local.port()))
            .await
            .unwrap();
    }
}
