//! Delivering a module's events to its notify(), on its notify thread.
//!
//! Events are delivered in batches: the thread takes the module's GIL once,
//! then calls notify() for each waiting event, taking them from the queue
//! one at a time (so the queue's bound and drop-the-oldest policy hold
//! while a batch runs, see notify.rs), and releases the GIL when the queue
//! is empty or the batch reaches its bound. One acquire and release per
//! batch instead of per event is what makes delivery cheaper than a host
//! taking the GIL per event (`pyhost bench notify` measures it).
//!
//! The bound keeps a batch from holding the GIL for long: the GIL is
//! given back after `BATCH_EVENTS` events or once `BATCH_TIME` has passed,
//! whichever comes first (the clock is read every `CLOCK_EVERY` events, a
//! clock read costing as much as a tenth of an event's delivery here;
//! checked between two events; a single notify()
//! is the module's own business, and CPython's own switch interval still
//! lets other threads of a shared GIL in meanwhile). Order is kept: events
//! reach notify() in the order they were queued. An exception from
//! notify() ends the batch and is returned: the caller fails the module,
//! as for an event delivered alone, and the events after it are not
//! delivered (the failed module's queue is closed).

use std::time::{Duration, Instant};

use crate::python::{Gil, Interpreter, OwnedObj, Result};

use super::notify::{Notice, NotifyQueue};
use super::pyside;

/// Events delivered under one hold of the GIL, at most.
pub const BATCH_EVENTS: usize = 64;
/// Time after which a batch gives the GIL back, at the next event.
pub const BATCH_TIME: Duration = Duration::from_millis(2);
/// Events between two readings of the clock for `BATCH_TIME`.
const CLOCK_EVERY: usize = 8;

/// Delivers the queue's events to `instance` until the queue is closed
/// (Ok) or notify() raises (the error).
pub fn run(queue: &NotifyQueue, interpreter: &Interpreter, instance: &OwnedObj) -> Result<()> {
    while let Some(first) = queue.next() {
        let outcome = interpreter.gil().and_then(|gil| batch(&gil, queue, instance, first));
        queue.delivered();
        outcome?;
    }
    Ok(())
}

/// `first`, then what waits, under the GIL already held, within the bound.
fn batch(gil: &Gil<'_>, queue: &NotifyQueue, instance: &OwnedObj, first: Notice) -> Result<()> {
    let started = Instant::now();
    let (mut first, mut given) = (Some(first), 0);
    let mut next = || {
        let notice = match first.take() {
            Some(notice) => notice,
            None if given >= BATCH_EVENTS => return None,
            None if given % CLOCK_EVERY == 0 && started.elapsed() >= BATCH_TIME => return None,
            None => queue.next_now()?,
        };
        given += 1;
        Some((notice.event, notice.payload))
    };
    pyside::notify_batch(gil, instance, &mut next)
}
