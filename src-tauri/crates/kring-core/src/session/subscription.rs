//! A live stream handed to a UI or the CLI is a task; dropping the
//! [`Subscription`] aborts it, so nothing keeps streaming into a closed view.

use tokio::task::JoinHandle;

#[derive(Debug)]
pub struct Subscription {
    task: JoinHandle<()>,
}

impl Subscription {
    pub(crate) fn new(task: JoinHandle<()>) -> Self {
        Self { task }
    }

    /// One subscription for two tasks: it ends when either ends, and
    /// dropping it stops both.
    #[must_use]
    pub fn and(self, other: Subscription) -> Subscription {
        Subscription::new(tokio::spawn(async move {
            let (mut a, mut b) = (self, other);
            tokio::select! {
                _ = &mut a.task => {}
                _ = &mut b.task => {}
            }
        }))
    }

    /// Whether the stream ended by itself (its consumer went away).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a stream consumer returns: keep sending, or stop (the channel closed).
pub type Sink<T> = Box<dyn FnMut(T) -> bool + Send + 'static>;
