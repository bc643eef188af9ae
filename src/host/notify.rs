//! A module's notify queue: events wait here for its notify() thread.
//!
//! Policy, stated once: the queue holds at most `limit` events; when a new
//! one arrives at a full queue, the *oldest* waiting event is dropped and
//! counted (`notifications_dropped` in the report). A slow listener thus
//! costs at most `limit` events of memory and sees the latest ones, which
//! for ticks and state changes are the ones that matter. When the module is
//! unloaded the queue is closed: events still waiting are discarded, and no
//! notify() starts after that (one in progress may finish).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// An event on its way to a module's notify().
pub struct Notice {
    pub event: String,
    pub payload: String,
}

struct Inner {
    waiting: VecDeque<Notice>,
    closed: bool,
    /// The notify thread is inside notify() now.
    delivering: bool,
}

pub struct NotifyQueue {
    inner: Mutex<Inner>,
    changed: Condvar,
    limit: usize,
    /// Shared by every queue of one module, so the count spans restarts.
    dropped: Arc<AtomicU64>,
}

impl NotifyQueue {
    pub fn new(limit: usize, dropped: Arc<AtomicU64>) -> NotifyQueue {
        NotifyQueue {
            inner: Mutex::new(Inner { waiting: VecDeque::new(), closed: false, delivering: false }),
            changed: Condvar::new(),
            limit: limit.max(1),
            dropped,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues an event, dropping the oldest waiting one if the queue is full.
    pub fn offer(&self, notice: Notice) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        if inner.waiting.len() >= self.limit {
            inner.waiting.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        inner.waiting.push_back(notice);
        self.changed.notify_all();
    }

    /// For the notify thread: the next event, once there is one, or None
    /// once the queue is closed. The caller calls `delivered` after it.
    pub fn next(&self) -> Option<Notice> {
        let mut inner = self.lock();
        loop {
            if inner.closed {
                return None;
            }
            if let Some(notice) = inner.waiting.pop_front() {
                inner.delivering = true;
                return Some(notice);
            }
            inner = self.changed.wait(inner).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// For the notify thread: notify() returned.
    pub fn delivered(&self) {
        self.lock().delivering = false;
        self.changed.notify_all();
    }

    /// No event is delivered from now on; the waiting ones are discarded.
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.waiting.clear();
        self.changed.notify_all();
    }

    /// Waits until no notify() is in progress, or until `deadline` (None:
    /// no deadline). Returns whether none is.
    pub fn wait_idle(&self, deadline: Option<Instant>) -> bool {
        let mut inner = self.lock();
        while inner.delivering {
            let wait = match deadline {
                None => None,
                Some(at) => match at.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return false,
                },
            };
            inner = match wait {
                None => self.changed.wait(inner).unwrap_or_else(|p| p.into_inner()),
                Some(left) => self.changed.wait_timeout(inner, left).unwrap_or_else(|p| p.into_inner()).0,
            };
        }
        true
    }

    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(n: usize) -> Notice {
        Notice { event: "tick".into(), payload: n.to_string() }
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts_it() {
        let dropped = Arc::new(AtomicU64::new(0));
        let queue = NotifyQueue::new(3, Arc::clone(&dropped));
        for n in 0..10 {
            queue.offer(notice(n));
        }
        assert_eq!(queue.waiting(), 3);
        assert_eq!(dropped.load(Ordering::Relaxed), 7);
        let kept: Vec<String> = (0..3).map(|_| queue.next().unwrap().payload).inspect(|_| queue.delivered()).collect();
        assert_eq!(kept, ["7", "8", "9"]);
    }

    #[test]
    fn a_closed_queue_delivers_nothing_more() {
        let queue = NotifyQueue::new(10, Arc::new(AtomicU64::new(0)));
        queue.offer(notice(1));
        queue.close();
        queue.offer(notice(2));
        assert!(queue.next().is_none());
        assert!(queue.wait_idle(Some(Instant::now())));
    }

    #[test]
    fn wait_idle_waits_for_the_event_in_progress() {
        let queue = Arc::new(NotifyQueue::new(10, Arc::new(AtomicU64::new(0))));
        queue.offer(notice(1));
        assert!(queue.next().is_some());
        assert!(!queue.wait_idle(Some(Instant::now())), "an event is in progress");
        let deliverer = Arc::clone(&queue);
        let thread = std::thread::spawn(move || deliverer.delivered());
        assert!(queue.wait_idle(None));
        thread.join().unwrap();
    }
}
