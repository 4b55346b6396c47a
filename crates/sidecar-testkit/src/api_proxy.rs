//! A TCP proxy between one process and the API stand-in that the test can sever, to cut that
//! process (and only it) off from the API server — a network partition of one replica, while
//! the others and the test keep talking to the same stand-in.

use std::net::SocketAddr;
use std::path::Path;

use kube_standin::StandIn;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct ApiProxy {
    addr: SocketAddr,
    severed: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ApiProxy {
    /// Listens on 127.0.0.1 and forwards every connection to `standin`.
    pub async fn start(standin: &StandIn) -> Self {
        let upstream: SocketAddr = standin.url().trim_start_matches("http://").parse().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (severed, watching) = watch::channel(false);
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if *watching.borrow() {
                    continue; // dropped: closed at once
                }
                tokio::spawn(forward(inbound, upstream, watching.clone()));
            }
        });
        Self {
            addr,
            severed,
            task,
        }
    }

    /// The stand-in's kubeconfig (whatever identity it carries), pointed at this proxy.
    pub fn write_kubeconfig(&self, standin: &StandIn, path: &Path) {
        standin.write_kubeconfig(path).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let proxied = text.replace(&standin.url(), &format!("http://{}", self.addr));
        assert_ne!(text, proxied, "the kubeconfig names the stand-in's URL");
        std::fs::write(path, proxied).unwrap();
    }

    /// Cuts every open connection and closes every later one at once, for good.
    pub fn sever(&self) {
        self.severed.send_replace(true);
    }
}

impl Drop for ApiProxy {
    fn drop(&mut self) {
        self.sever();
        self.task.abort();
    }
}

async fn forward(mut inbound: TcpStream, upstream: SocketAddr, mut severed: watch::Receiver<bool>) {
    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
        _ = severed.wait_for(|cut| *cut) => {}
    }
}
