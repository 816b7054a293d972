//! The mail sink driven from outside: by lettre, the client paylink mails with (`with_lettre`),
//! and by a raw TCP client for what lettre never sends (`protocol`, `controls`).

mod controls;
mod protocol;
mod raw;
mod with_lettre;
