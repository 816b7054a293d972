//! Who may start a try now: the dispatcher's slots (docs/webhooks.md, "Delivery, retries and
//! replay").
//!
//! A process has `total` tries in flight at most and an endpoint `cap`. Each registered
//! endpoint also has `reserved` slots no other endpoint may take: an endpoint beyond its
//! reserve borrows only slots that leave every other endpoint's unused reserve free. With at
//! most [`super::endpoints::MAX_ENDPOINTS`] endpoints and `reserved × MAX_ENDPOINTS ≤ total`,
//! a healthy endpoint therefore always finds its reserve, however many others hang for their
//! whole timeout, while a lone endpoint can still use `cap` slots.

use std::collections::HashMap;

#[derive(Debug)]
pub(crate) struct Slots {
    total: usize,
    reserved: usize,
    cap: usize,
    in_flight: HashMap<String, usize>,
    /// The endpoints registered now, each holding a reserve.
    registered: Vec<String>,
}

impl Slots {
    pub(crate) fn new(total: usize, reserved: usize, cap: usize) -> Self {
        let total = total.max(1);
        let cap = cap.clamp(1, total);
        Self {
            total,
            reserved: reserved.min(cap),
            cap,
            in_flight: HashMap::new(),
            registered: Vec::new(),
        }
    }

    /// The endpoints whose reserves count from now on.
    pub(crate) fn set_registered(&mut self, ids: Vec<String>) {
        self.registered = ids;
    }

    fn used(&self) -> usize {
        self.in_flight.values().sum()
    }

    pub(crate) fn free(&self) -> usize {
        self.total.saturating_sub(self.used())
    }

    fn of(&self, endpoint: &str) -> usize {
        self.in_flight.get(endpoint).copied().unwrap_or(0)
    }

    /// Slots the other registered endpoints have in reserve and do not use.
    fn reserve_of_others(&self, endpoint: &str) -> usize {
        self.registered
            .iter()
            .filter(|id| id.as_str() != endpoint)
            .map(|id| self.reserved.saturating_sub(self.of(id)))
            .sum()
    }

    /// Whether `endpoint` may start one more try now.
    pub(crate) fn can_take(&self, endpoint: &str) -> bool {
        let (mine, free) = (self.of(endpoint), self.free());
        if mine >= self.cap || free == 0 {
            return false;
        }
        let own_reserve = mine < self.reserved && self.registered.iter().any(|id| id == endpoint);
        own_reserve || free > self.reserve_of_others(endpoint)
    }

    /// Takes a slot for `endpoint`; false when [`Self::can_take`] says no.
    pub(crate) fn take(&mut self, endpoint: &str) -> bool {
        if !self.can_take(endpoint) {
            return false;
        }
        *self.in_flight.entry(endpoint.to_owned()).or_default() += 1;
        true
    }

    pub(crate) fn give_back(&mut self, endpoint: &str) {
        if let Some(n) = self.in_flight.get_mut(endpoint) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.in_flight.remove(endpoint);
            }
        }
    }

    /// Endpoints (registered, or with tries in flight) that may not start a try now.
    pub(crate) fn busy(&self) -> Vec<String> {
        let mut ids: Vec<&String> = self
            .registered
            .iter()
            .chain(self.in_flight.keys())
            .collect();
        ids.sort();
        ids.dedup();
        ids.into_iter()
            .filter(|id| !self.can_take(id))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("we_{i}")).collect()
    }

    /// Takes slots for `endpoint` until refused; answers how many.
    fn fill(slots: &mut Slots, endpoint: &str) -> usize {
        let mut n = 0;
        while slots.take(endpoint) {
            n += 1;
        }
        n
    }

    #[test]
    fn a_lone_endpoint_uses_its_whole_cap() {
        let mut slots = Slots::new(64, 4, 16);
        slots.set_registered(ids(1));
        assert_eq!(fill(&mut slots, "we_0"), 16);
    }

    #[test]
    fn hanging_endpoints_leave_every_other_registered_endpoint_its_reserve() {
        for registered in [2, 5, 16] {
            let mut slots = Slots::new(64, 4, 16);
            slots.set_registered(ids(registered));
            let healthy = format!("we_{}", registered - 1);
            let mut hanging = 0;
            for id in &ids(registered - 1) {
                hanging += fill(&mut slots, id);
            }
            assert!(
                hanging <= 64 - 4,
                "{registered}: hanging ones hold {hanging}"
            );
            assert_eq!(fill(&mut slots, &healthy), 4.max(64 - hanging).min(16));
            assert!(slots.busy().contains(&healthy));
            slots.give_back(&healthy);
            assert!(slots.can_take(&healthy), "a finished try frees its slot");
        }
    }

    #[test]
    fn sixteen_endpoints_get_four_each_and_an_unregistered_one_borrows_only_spare_slots() {
        let mut slots = Slots::new(64, 4, 16);
        slots.set_registered(ids(16));
        assert_eq!(fill(&mut slots, "we_0"), 4);
        assert_eq!(
            fill(&mut slots, "we_deleted"),
            0,
            "every spare slot is reserved"
        );
        let mut slots = Slots::new(64, 4, 16);
        slots.set_registered(ids(2));
        assert_eq!(fill(&mut slots, "we_deleted"), 16);
        assert_eq!(fill(&mut slots, "we_0"), 16);
        assert_eq!(
            fill(&mut slots, "we_1"),
            16,
            "its reserve, and what is spare"
        );
        assert_eq!(slots.free(), 16);
    }
}
