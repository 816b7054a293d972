//! The kinds of outbound event, by the names the host application reads.

/// The event types, as they appear in `type` and in an endpoint's `events`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// A link was minted (or re-minted after a new amount): the pay URL now reaches Stripe.
    LinkReady,
    Paid,
    /// No link could be made: Stripe refused the request, or the worker gave up.
    Failed,
    Cancelled,
    /// A payment that needs a person: wrong amount, paid after cancel, paid twice.
    PaymentIssue,
    /// No order of the blast is waiting for its link any more.
    BlastCompleted,
    /// The mail server refused the payer's address for good (a 5xx): the payer did not get
    /// their pay link by mail; the address needs fixing.
    EmailRejected,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::LinkReady,
        EventType::Paid,
        EventType::Failed,
        EventType::Cancelled,
        EventType::PaymentIssue,
        EventType::BlastCompleted,
        EventType::EmailRejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::LinkReady => "order.link_ready",
            EventType::Paid => "order.paid",
            EventType::Failed => "order.failed",
            EventType::Cancelled => "order.cancelled",
            EventType::PaymentIssue => "order.payment_issue",
            EventType::BlastCompleted => "blast.completed",
            EventType::EmailRejected => "order.email_rejected",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}
