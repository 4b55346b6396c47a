//! Waiting for a CSI plugin child process (controller or node plugin) to serve its unix
//! socket, as kubelet and the sidecars wait for theirs.

use std::path::Path;
use std::time::Duration;

use sepia_testbed::Process;
use tonic::transport::Channel;

/// A channel to the plugin on `socket`, once it serves; fails the test with the plugin's log
/// when it does not within 30 s.
pub async fn connect(socket: &Path, plugin: &Process) -> Channel {
    let endpoint = format!("unix://{}", socket.display());
    for _ in 0..300 {
        if socket.exists()
            && let Ok(channel) = csi::client::connect(&endpoint, Duration::from_secs(5)).await
        {
            return channel;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{} did not serve {endpoint}:\n{}",
        plugin.name,
        plugin.log_tail()
    );
}
