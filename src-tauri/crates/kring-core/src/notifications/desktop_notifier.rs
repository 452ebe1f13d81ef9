//! The OS's notification service through notify-rust: D-Bus
//! `org.freedesktop.Notifications` on Linux, the native centres on macOS and
//! Windows (there without actions or closing).

use std::{collections::HashMap, sync::Arc};

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use crate::notifications::{DesktopNotification, Notifier};

/// Shown notifications by id: the handle to close one, and its repeat task.
#[cfg(all(unix, not(target_os = "macos")))]
type Handles = Arc<std::sync::Mutex<HashMap<u32, (Arc<notify_rust::NotificationHandle>, tokio::task::AbortHandle)>>>;

/// notify-rust: D-Bus `org.freedesktop.Notifications` on Linux and the BSDs,
/// the native centres on macOS and Windows (without actions or closing).
pub struct DesktopNotifier {
    #[cfg(all(unix, not(target_os = "macos")))]
    handles: Handles,
    #[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
    activations: mpsc::UnboundedSender<u32>,
}

impl DesktopNotifier {
    /// Clicked notifications' ids go to `activations`.
    pub fn new(activations: mpsc::UnboundedSender<u32>) -> Self {
        Self {
            #[cfg(all(unix, not(target_os = "macos")))]
            handles: Default::default(),
            activations,
        }
    }

    fn build(n: &DesktopNotification) -> notify_rust::Notification {
        let mut notification = notify_rust::Notification::new();
        notification.appname("Kring").summary(&n.summary).body(&n.body);
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            use notify_rust::{Hint, Timeout, Urgency};
            notification.action("default", "Openen").hint(Hint::Category("im.received".into()));
            if n.urgent {
                // Critical: the desktop keeps it until acted on, and plays it.
                notification.urgency(Urgency::Critical).sound_name("message-new-instant").timeout(Timeout::Never);
            } else {
                notification.urgency(Urgency::Normal);
            }
            if let Some(id) = n.replaces {
                notification.id(id);
            }
        }
        notification
    }
}

impl Notifier for DesktopNotifier {
    #[cfg(all(unix, not(target_os = "macos")))]
    fn show(&self, n: DesktopNotification) -> BoxFuture<'static, Result<u32, String>> {
        let notification = Self::build(&n);
        let handles = self.handles.clone();
        let activations = self.activations.clone();
        Box::pin(async move {
            let handle = Arc::new(notification.show_async().await.map_err(|e| e.to_string())?);
            let id = handle.id();
            // The daemon answers a click on the connection that last showed
            // this id: a repeat's replaces the earlier listener.
            let listener = tokio::spawn({
                let handle = handle.clone();
                let handles = handles.clone();
                async move {
                    handle
                        .wait_for_action_async(|response| {
                            use notify_rust::NotificationResponse as Resp;
                            if matches!(response, Resp::Default)
                                || matches!(response, Resp::Action(a) if a == "default")
                            {
                                let _ = activations.send(id);
                            }
                        })
                        .await;
                    let mut handles = handles.lock().unwrap_or_else(|p| p.into_inner());
                    if handles.get(&id).is_some_and(|(h, _)| Arc::ptr_eq(h, &handle)) {
                        handles.remove(&id);
                    }
                }
            });
            let earlier =
                handles.lock().unwrap_or_else(|p| p.into_inner()).insert(id, (handle, listener.abort_handle()));
            if let Some((_, earlier)) = earlier {
                earlier.abort();
            }
            Ok(id)
        })
    }

    #[cfg(not(all(unix, not(target_os = "macos"))))]
    fn show(&self, n: DesktopNotification) -> BoxFuture<'static, Result<u32, String>> {
        let notification = Self::build(&n);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || notification.show().map(|_| 0).map_err(|e| e.to_string()))
                .await
                .map_err(|e| e.to_string())?
        })
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    fn close(&self, id: u32) -> BoxFuture<'static, ()> {
        let handle = self.handles.lock().unwrap_or_else(|p| p.into_inner()).get(&id).map(|(h, _)| h.clone());
        Box::pin(async move {
            if let Some(handle) = handle {
                handle.close_async().await;
            }
        })
    }

    #[cfg(not(all(unix, not(target_os = "macos"))))]
    fn close(&self, _id: u32) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}
