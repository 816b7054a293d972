//! One file per job: the payload and its handler side by side.

pub mod deactivate_link;
pub mod lease;
pub mod mint_link;
pub mod stripe_event;

/// Counts a finished job in the metrics registry (`paylink_jobs_total{job, outcome}`) and
/// passes its result on.
pub(crate) fn counted<E>(job: &'static str, result: Result<(), E>) -> Result<(), E> {
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::counter!("paylink_jobs_total", "job" => job, "outcome" => outcome).increment(1);
    result
}
