//! What every dashboard page shares: the page around its body (head, style, navigation, the
//! logout form with its CSRF token), the login page, a refusal, and the small pieces pages
//! build from (a card, a time, a path segment, a query pair).

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

const STYLE: &str = "
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:.6rem 1.2rem;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center}
header a{color:#cfd6e4;text-decoration:none}header a:hover{color:#fff}header strong{margin-right:1rem}
header form{margin-left:auto}header button{color:#1d2330}main{padding:1.2rem;max-width:72rem}
svg.spark{max-width:100%;height:auto}.card{overflow-wrap:anywhere}
h1{font-size:1.3rem;overflow-wrap:anywhere}h2{font-size:1.05rem;margin-top:1.6rem}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:.7rem 1rem;min-width:9rem;flex:1 1 9rem}
a.card,.card.money a{color:inherit;text-decoration:none}a.card:hover{border-color:#1d4ed8}.card.money a{display:block}.card a.issues{color:#b91c1c;font-size:.85rem;margin-top:.3rem;text-decoration:underline}
.card b{display:block;font-size:1.5rem}.muted{color:#6b7385;font-size:.85rem}
.card[data-label=paid] b{color:#15803d}.card[data-label=attention] b{color:#b91c1c}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;background:#fff;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #e5e8ee;padding:.4rem .5rem;text-align:left;vertical-align:top}
th{background:#eef0f4}.bar{display:flex;height:.8rem;width:14rem;max-width:100%;background:#e5e8ee;border-radius:3px;overflow:hidden}
.bar span{display:block}.ready{background:#3b82f6}.failed{background:#dc2626}.paid{background:#16a34a}
button,a.button{font:inherit;padding:.2rem .6rem;border:1px solid #9aa3b5;border-radius:4px;background:#fff;cursor:pointer;color:inherit;text-decoration:none;display:inline-block}
button.primary,a.button.primary{background:#1d4ed8;color:#fff;border-color:#1d4ed8}form.inline{display:inline}
input,select{font:inherit;padding:.2rem .4rem;max-width:100%}input.copy{font-family:ui-monospace,monospace;font-size:.8rem;width:16rem}
.banner{background:#fef2f2;border:1px solid #fca5a5;border-radius:6px;padding:.6rem 1rem;margin:0 0 1rem}.banner p{margin:.3rem 0}
.error{color:#b91c1c}.flash{background:#ecfdf5;border:1px solid #a7f3d0;padding:.5rem .8rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dl.facts dt{color:#6b7385}dl.facts dd{margin:0;overflow-wrap:anywhere}
details.legend{margin:.8rem 0}details.legend dt{font-weight:600}details.legend dd{margin:0 0 .4rem 0}
.actions{margin:1rem 0;display:flex;flex-wrap:wrap;gap:.6rem;align-items:center}
form.search input[type=search]{width:22rem}
@media (max-width:640px){
main{padding:.8rem}header{padding:.5rem .8rem}header strong{margin-right:0}header form{margin-left:0}
.card{min-width:0;flex:1 1 40%}.card b{font-size:1.2rem}
form.search input[type=search]{width:100%}input.copy{width:12rem}
th,td{padding:.35rem .3rem}td.when{font-size:.8rem;min-width:5.5rem}
}
";

/// Every dashboard page's head: sized for a phone's width as well as a desktop's.
fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · paylink" }
            style { (PreEscaped(STYLE)) }
        }
    }
}

pub fn layout(title: &str, csrf: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header {
                    strong { "paylink" }
                    a href="/admin" { "Overview" }
                    a href="/admin/orders" { "Orders" }
                    a href="/admin/blasts" { "Blasts" }
                    a href="/admin/products" { "Products" }
                    a href="/admin/failures" { "Failures" }
                    a href="/admin/webhooks" { "Webhooks" }
                    form method="post" action="/admin/logout" {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { "Log out" }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The login form (also the body of every 401 under `/admin`).
pub fn login(error: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Log in"))
            body {
                main {
                    h1 { "paylink operator login" }
                    @if let Some(error) = error { p.error { (error) } }
                    form method="post" action="/admin/login" {
                        label { "Admin token " input type="password" name="token" autocomplete="current-password" autofocus; }
                        " "
                        button.primary type="submit" { "Log in" }
                    }
                }
            }
        }
    }
}

/// A page that says what was wrong with the request (a form or a query the dashboard cannot
/// take); the message is escaped like everything maud renders.
pub fn problem(title: &str, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                main {
                    h1 { (title) }
                    p.error { (message) }
                    p { a href="/admin" { "Back to the dashboard" } }
                }
            }
        }
    }
}

pub fn card(label: &str, value: impl std::fmt::Display, note: &str) -> Markup {
    html! { div.card data-label=(label) { span.muted { (label) } b { (value) } span.muted { (note) } } }
}

pub fn when(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "–".into())
}

/// `value` as one path segment of a URL: every byte but ASCII letters, digits and `*-._` is
/// percent-encoded, so an id holding `/`, `?`, `#`, `%` or a space stays one segment and
/// reaches the route whole (axum decodes it). `byte_serialize` writes a space as `+`, which
/// means a space only in a query string; in a path it is `%20` (a `+` in the input is `%2B`).
pub fn path_segment(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// `name=value` for a query string, both encoded.
pub fn query_pair(name: &str, value: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair(name, value)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_one_path_segment_whatever_it_holds() {
        for (id, segment) in [
            ("ord_0a1b", "ord_0a1b"),
            ("evt_a/b", "evt_a%2Fb"),
            ("a?b#c", "a%3Fb%23c"),
            ("two words", "two%20words"),
            ("1+1=2", "1%2B1%3D2"),
            ("100%", "100%25"),
            ("../admin", "..%2Fadmin"),
            ("é", "%C3%A9"),
        ] {
            assert_eq!(path_segment(id), segment, "{id:?}");
        }
    }

    #[test]
    fn a_query_value_is_encoded() {
        assert_eq!(
            query_pair("blast", "a&notice=x#y"),
            "blast=a%26notice%3Dx%23y"
        );
    }
}
