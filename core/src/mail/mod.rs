//! Mail to payers: what paylink writes to a payer (their pay link) and the message that carries
//! it. A leaf: it names nothing of the store, the jobs or the queue; the job that sends the mail
//! calls it.
//!
//! - [`MailTemplates`] (`templates.rs`): the subject, text and HTML templates, built in
//!   (`core/templates/mail/`) or overridden from a directory, each checked at load; renders a
//!   [`PayLinkMail`] into a [`RenderedMail`]. [`TemplateError`] names the template and its line.
//! - [`pay_link_message`] (`message.rs`): the multipart/alternative message, with the
//!   Message-ID fixed when the mail was queued ([`new_message_id`]).

mod builtin;
mod html;
mod message;
mod one_line;
mod template_error;
mod templates;

pub use lettre::Message;
pub use lettre::message::Mailbox;
pub use message::{MessageError, new_message_id, parse_mailbox, pay_link_message};
pub use template_error::TemplateError;
pub use templates::{MailTemplates, PayLinkMail, RenderedMail};
