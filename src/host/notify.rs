//! A module's notify queue: events wait here for its notify() thread.
//!
//! Policy, stated once: the queue holds at most `limit` events; when a new
//! one arrives at a full queue, the *oldest* waiting event is dropped and
//! counted (`notifications_dropped` in the report). A slow listener thus
//! costs at most `limit` events of memory and sees the latest ones, which
//! for ticks and state changes are the ones that matter. When the module is
//! unloaded the queue is closed: events still waiting are discarded, and no
//! notify() starts after that (one in progress may finish).
//!
//! The notify thread drains the queue in batches (host/delivery.rs): it
//! takes the first event with `next`, then, while it holds the module's
//! GIL, each following one with `next_now`, one at a time as it delivers
//! them. Events not yet delivered stay here, so the bound and the
//! drop-the-oldest policy above apply to them exactly as to single events,
//! and a close between two events of a batch ends the batch.

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
    /// Close once the waiting events are delivered (see `close_when_drained`).
    closing: bool,
    /// The notify thread is inside a batch of notify() calls now.
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
            inner: Mutex::new(Inner { waiting: VecDeque::new(), closed: false, closing: false, delivering: false }),
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

    /// For the notify thread: the first event of a batch, once there is
    /// one, or None once the queue is closed. The caller calls `delivered`
    /// when the batch is over.
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
            if inner.closing {
                inner.closed = true;
                return None;
            }
            inner = self.changed.wait(inner).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// For the notify thread, inside a batch: the next waiting event, if
    /// there is one now and the queue is still open; never waits.
    pub fn next_now(&self) -> Option<Notice> {
        let mut inner = self.lock();
        if inner.closed { None } else { inner.waiting.pop_front() }
    }

    /// For the notify thread: the batch is over (its last notify() returned).
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

    /// Closes the queue once every event waiting now or offered before then
    /// is delivered: for a caller that feeds a known set of events (the bench).
    pub fn close_when_drained(&self) {
        self.lock().closing = true;
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
    fn a_batch_takes_events_one_at_a_time_so_the_bound_still_applies() {
        let dropped = Arc::new(AtomicU64::new(0));
        let queue = NotifyQueue::new(3, Arc::clone(&dropped));
        for n in 0..3 {
            queue.offer(notice(n));
        }
        assert_eq!(queue.next().unwrap().payload, "0");
        // Mid-batch, events keep arriving: the waiting ones are still bounded.
        for n in 3..6 {
            queue.offer(notice(n));
        }
        assert_eq!(queue.waiting(), 3);
        assert_eq!(dropped.load(Ordering::Relaxed), 2);
        let rest: Vec<String> = std::iter::from_fn(|| queue.next_now()).map(|n| n.payload).collect();
        assert_eq!(rest, ["3", "4", "5"]);
        queue.delivered();
        assert!(queue.wait_idle(Some(Instant::now())));
    }

    #[test]
    fn a_close_ends_a_batch_between_two_events() {
        let queue = NotifyQueue::new(10, Arc::new(AtomicU64::new(0)));
        queue.offer(notice(1));
        queue.offer(notice(2));
        assert!(queue.next().is_some());
        queue.close();
        assert!(queue.next_now().is_none());
        assert!(!queue.wait_idle(Some(Instant::now())), "the batch is still in progress");
        queue.delivered();
        assert!(queue.wait_idle(Some(Instant::now())));
    }

    #[test]
    fn close_when_drained_delivers_what_waits_then_closes() {
        let queue = NotifyQueue::new(10, Arc::new(AtomicU64::new(0)));
        queue.offer(notice(1));
        queue.close_when_drained();
        assert_eq!(queue.next().unwrap().payload, "1");
        queue.delivered();
        assert!(queue.next().is_none());
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
