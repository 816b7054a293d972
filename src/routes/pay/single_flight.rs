//! One mint in flight per order, however many clicks: the first click on a not-yet-minted pay
//! URL starts the mint as a task of its own, and every click that arrives while it runs waits
//! for that same task's answer. Without it, 60 clicks at once (a payer hammering the button, a
//! link shared in a group chat, a hostile script) each sent their own Stripe create: the shared
//! idempotency key kept that to one link, but every request still spent a turn of the rate
//! limit that a blast needed.
//!
//! In one process: two intake processes may each have one create in flight for an order, which
//! the idempotency key still makes one link.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};

/// A flight's answer as every caller awaits it: `None` if its task panicked.
type Flight<T> = Shared<BoxFuture<'static, Option<T>>>;

/// Flights by key; each removes itself when it lands.
pub struct SingleFlight<T: Clone + Send + Sync + 'static> {
    flights: Arc<Mutex<HashMap<String, Flight<T>>>>,
}

impl<T: Clone + Send + Sync + 'static> Default for SingleFlight<T> {
    fn default() -> Self {
        Self {
            flights: Arc::default(),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> SingleFlight<T> {
    /// The answer of the flight under `key`: the one in the air, or a new one made by `start`.
    /// The flight is a task of its own, so it lands even if every caller has gone (a payer who
    /// closed the tab must not leave a Stripe create cut off halfway). `None` when the task
    /// panicked.
    pub async fn run<F>(&self, key: &str, start: impl FnOnce() -> F) -> Option<T>
    where
        F: Future<Output = T> + Send + 'static,
    {
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
            match flights.get(key) {
                Some(flight) => flight.clone(),
                None => {
                    let work = start();
                    let all = self.flights.clone();
                    let owned = key.to_owned();
                    // Spawned while the map is locked, so the task's removal waits for the insert.
                    let task = tokio::spawn(async move {
                        let answer = work.await;
                        all.lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&owned);
                        answer
                    });
                    let flight = task.map(Result::ok).boxed().shared();
                    flights.insert(key.to_owned(), flight.clone());
                    flight
                }
            }
        };
        let answer = flight.await;
        if answer.is_none() {
            // The task panicked before it could remove itself.
            self.flights
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(key);
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn callers_arriving_while_a_flight_is_in_the_air_share_its_answer() {
        let flights = Arc::new(SingleFlight::<usize>::default());
        let started = Arc::new(AtomicUsize::new(0));
        let callers = (0..30).map(|_| {
            let flights = flights.clone();
            let started = started.clone();
            tokio::spawn(async move {
                flights
                    .run("ord_1", || async move {
                        let n = started.fetch_add(1, Ordering::SeqCst) + 1;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        n
                    })
                    .await
            })
        });
        let answers = futures::future::join_all(callers).await;
        assert!(
            answers.iter().all(|a| matches!(a, Ok(Some(1)))),
            "{answers:?}"
        );
        assert_eq!(
            started.load(Ordering::SeqCst),
            1,
            "one flight for 30 callers"
        );

        // Landed: the next caller starts a new flight.
        let again = flights.run("ord_1", || async { 7 }).await;
        assert_eq!(again, Some(7));
    }

    #[tokio::test]
    async fn a_flight_that_panics_answers_none_and_does_not_block_the_key() {
        let flights = SingleFlight::<u8>::default();
        let panicked = flights
            .run("ord_2", || async { panic!("the mint panicked") })
            .await;
        assert_eq!(panicked, None);
        assert_eq!(flights.run("ord_2", || async { 3 }).await, Some(3));
    }

    #[tokio::test]
    async fn the_flight_lands_when_its_caller_leaves() {
        let flights = Arc::new(SingleFlight::<u8>::default());
        let landed = Arc::new(AtomicUsize::new(0));
        let caller = {
            let flights = flights.clone();
            let landed = landed.clone();
            tokio::spawn(async move {
                flights
                    .run("ord_3", || async move {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        landed.fetch_add(1, Ordering::SeqCst);
                        1
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        caller.abort();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            landed.load(Ordering::SeqCst),
            1,
            "the mint finished unwatched"
        );
    }
}
