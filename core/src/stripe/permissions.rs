//! What a restricted key (`rk_…`) must be allowed, resource by resource, and why: the table in
//! docs/stripe.md ("A restricted key") is this list. `paylink doctor` probes each read with
//! one harmless `GET …?limit=1` and names the permission Stripe refused.

use super::{StripeApi, StripeFailure};

/// One resource paylink calls, the access it needs and what for.
#[derive(Clone, Copy, Debug)]
pub struct Permission {
    /// The resource as the Dashboard's restricted-key form lists it.
    pub resource: &'static str,
    /// `Read` or `Write` (write includes read).
    pub access: &'static str,
    /// What needs it.
    pub why: &'static str,
    /// The API path the probe reads (`GET /v1{path}?limit=1`).
    pub probe: &'static str,
}

/// Every permission paylink needs, in the order the doctor probes them.
pub const PERMISSIONS: [Permission; 4] = [
    Permission {
        resource: "Payment Links",
        access: "Write",
        why: "minting links and switching them off; the link sweep reads them",
        probe: "/payment_links",
    },
    Permission {
        resource: "Checkout Sessions",
        access: "Read",
        why: "the payer's return page and the sweeps read the session that paid",
        probe: "/checkout/sessions",
    },
    Permission {
        resource: "Events",
        access: "Read",
        why: "the event sweep reads what no webhook delivered",
        probe: "/events",
    },
    Permission {
        resource: "Webhook Endpoints",
        access: "Read",
        why: "paylink doctor checks the endpoint Stripe delivers to",
        probe: "/webhook_endpoints",
    },
];

impl StripeApi {
    /// Reads one object of `permission`'s resource (`GET /v1{probe}?limit=1`): whether the key
    /// may read it. Writing cannot be probed harmlessly (`paylink doctor --create-test-link`
    /// does it on purpose).
    pub async fn probe(&self, permission: &Permission) -> Result<(), StripeFailure> {
        self.paced(
            "probe_permission",
            self.http()
                .get_json(permission.probe, &[("limit", "1".to_owned())]),
        )
        .await
        .map(drop)
    }
}
