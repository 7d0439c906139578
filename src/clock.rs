//! The wall clock, in whole seconds since the epoch. Everything that
//! decides with time takes "now" as a value; only the faces and the
//! engine ask the clock, and the notifier stamps what it queues.

/// Now, by the system clock.
pub fn wall_clock() -> i64 {
    chrono::Utc::now().timestamp()
}
