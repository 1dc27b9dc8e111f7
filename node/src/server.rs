//! The RESP listener: accepts clients until the node stops, each served by a
//! [`crate::session`] of its own (a task the node owns).

use crate::shared::Shared;
use crate::tasks::Tasks;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::{debug, warn};

/// Accept clients on `listener` until the node stops; from CONFIG SET port on, on the new
/// port only (connected clients stay).
pub async fn serve(shared: Arc<Shared>, mut listener: TcpListener, tasks: Tasks) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            next = shared.next_listener() => {
                listener = next;
                continue;
            }
        };
        let (socket, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, most often: wait for some to be freed.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        debug!(%peer, "client connected");
        let shared = Arc::clone(&shared);
        tasks.spawn_watching(async move { crate::session::serve(shared, socket).await });
    }
}
