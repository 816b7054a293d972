//! AUTH PLAIN and AUTH LOGIN (RFC 4954, RFC 4616): decoding what the client sends. The sink
//! accepts any credentials; it only needs the exchange to be well formed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The challenges of AUTH LOGIN, base64 of `Username:` and `Password:`.
pub(crate) const LOGIN_USERNAME: &str = "VXNlcm5hbWU6";
pub(crate) const LOGIN_PASSWORD: &str = "UGFzc3dvcmQ6";

/// A client response that is not what the mechanism expects: answered 501 with this text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadResponse(pub &'static str);

/// Base64 text; `=` is the empty response (RFC 4954 section 4).
pub(crate) fn decode(response: &str) -> Result<Vec<u8>, BadResponse> {
    if response == "=" {
        return Ok(Vec::new());
    }
    STANDARD
        .decode(response.trim())
        .map_err(|_| BadResponse("5.5.2 cannot decode the response (base64)"))
}

/// PLAIN's `authzid NUL authcid NUL passwd`: the user (authcid) it authenticates as.
pub(crate) fn plain_user(response: &str) -> Result<String, BadResponse> {
    let decoded = decode(response)?;
    let parts: Vec<&[u8]> = decoded.split(|&b| b == 0).collect();
    match parts.as_slice() {
        [_authzid, user, _password] if !user.is_empty() => String::from_utf8(user.to_vec())
            .map_err(|_| BadResponse("5.5.2 the user name is not UTF-8")),
        _ => Err(BadResponse(
            "5.5.2 PLAIN expects authzid NUL user NUL password",
        )),
    }
}

/// LOGIN's user name.
pub(crate) fn login_user(response: &str) -> Result<String, BadResponse> {
    String::from_utf8(decode(response)?)
        .map_err(|_| BadResponse("5.5.2 the user name is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_its_user() {
        let response = STANDARD.encode(b"\0paylink\0secret");
        assert_eq!(plain_user(&response), Ok("paylink".to_owned()));
        assert!(plain_user(&STANDARD.encode(b"paylink:secret")).is_err());
        assert!(plain_user("not base64!").is_err());
    }

    #[test]
    fn the_login_challenges_say_what_they_ask() {
        assert_eq!(decode(LOGIN_USERNAME), Ok(b"Username:".to_vec()));
        assert_eq!(decode(LOGIN_PASSWORD), Ok(b"Password:".to_vec()));
        assert_eq!(login_user(&STANDARD.encode("ann")), Ok("ann".to_owned()));
    }
}
