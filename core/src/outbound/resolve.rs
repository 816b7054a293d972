//! The webhook client's DNS: names resolved as usual, then every address that is not public
//! dropped ([`super::target::forbidden`]). reqwest connects only to the addresses this answers,
//! so the check holds on the address actually connected to, whatever the name resolved to
//! when the endpoint was registered (DNS rebinding gains nothing). A name left with no address
//! fails the try as [`Refused`].

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::target::forbidden;

/// The try went nowhere: the target is not a public address. Found in a reqwest error's
/// sources by [`is_refused`].
#[derive(Debug, thiserror::Error)]
#[error("refused: not a public address")]
pub struct Refused;

/// Whether `error` (or one of its causes) is a [`Refused`].
pub fn is_refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<Refused>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// Resolves with the system's resolver and keeps the public addresses only.
#[derive(Debug, Default)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts in the URL's port.
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| forbidden(a.ip()).is_none()).collect();
            if public.is_empty() {
                return Err(Box::new(Refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn localhost_resolves_to_nothing_and_says_refused() {
        let name: Name = "localhost".parse().unwrap();
        let Err(error) = PublicOnly.resolve(name).await else {
            panic!("localhost has no public address");
        };
        assert!(is_refused(error.as_ref()), "{error}");
    }
}
