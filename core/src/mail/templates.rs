//! The pay link mail's templates: the built-in ones (`core/templates/mail/`), each overridden by a
//! file of the same name in the operator's directory (`email.templates_dir`), compiled and tried
//! with sample mails at load so that a mistake stops start-up rather than a send.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde::{Serialize, Serializer};

use super::builtin::{self, HTML, SUBJECT, TEXT};
use super::html;
use super::one_line::one_line;
use super::template_error::TemplateError;

/// What a pay link mail says: the templates' variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayLinkMail {
    /// The sender's display name (the league, the club).
    pub organisation: String,
    pub payer_name: String,
    /// The product's name.
    pub product: String,
    /// The amount as the payer reads it, in the currency's own format
    /// (`crate::domain::format_money`: `$45.00`, `¥4,500`).
    pub amount: String,
    pub pay_url: String,
    /// The organiser's own words, shown above the button; a blank one counts as none.
    #[serde(serialize_with = "blank_as_none")]
    pub message: Option<String>,
}

/// A mail's three parts, rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    /// One line, never empty.
    pub subject: String,
    pub text: String,
    /// What the payer or the organiser typed is escaped.
    pub html: String,
}

/// The compiled templates, each known to render.
#[derive(Debug)]
pub struct MailTemplates {
    env: Environment<'static>,
    /// Each template's name → how an error names it: its file, or `built-in <name>`.
    origins: BTreeMap<&'static str, String>,
}

/// The built-in subject, kept under its own name: the subject used when an operator's renders
/// empty for some mail.
const FALLBACK_SUBJECT: &str = "fallback/pay_link.subject.txt";

impl MailTemplates {
    /// The built-in templates, each overridden by the file of the same name in `dir` when there
    /// is one. Fails, naming the file, on a file in `dir` that is no template's (names starting
    /// with `.` aside: editors' and Kubernetes' own files), and, naming the template and line, on
    /// a template that does not compile or does not render a sample mail: every variable must be
    /// one of [`PayLinkMail`]'s (undefined ones are errors), the subject must not be empty, and
    /// the text and HTML must show the pay URL.
    pub fn load(dir: Option<&Path>) -> Result<Self, TemplateError> {
        let mut sources: BTreeMap<&'static str, (String, Cow<'static, str>)> = builtin::TEMPLATES
            .iter()
            .map(|&(name, source)| (name, (format!("built-in {name}"), Cow::Borrowed(source))))
            .collect();
        if let Some(dir) = dir {
            for (name, path, source) in overrides(dir)? {
                sources.insert(name, (path, Cow::Owned(source)));
            }
        }
        let mut env = environment();
        let mut origins = BTreeMap::new();
        for (name, (origin, source)) in sources {
            env.add_template_owned(name, source)
                .map_err(|e| TemplateError::from_minijinja(&origin, &e))?;
            origins.insert(name, origin);
        }
        env.add_template_owned(FALLBACK_SUBJECT, builtin::SUBJECT_SOURCE)
            .map_err(|e| TemplateError::from_minijinja("built-in pay_link.subject.txt", &e))?;
        let templates = Self { env, origins };
        templates.try_samples()?;
        Ok(templates)
    }

    /// `mail` rendered: the subject on one line (the built-in subject if the template's is
    /// empty), the text as written, the HTML escaped.
    pub fn render_pay_link(&self, mail: &PayLinkMail) -> Result<RenderedMail, TemplateError> {
        let context = Value::from(Serde(mail));
        let mut subject = one_line(&self.render(SUBJECT, &context)?);
        if subject.is_empty() {
            subject = one_line(&self.render(FALLBACK_SUBJECT, &context)?);
        }
        Ok(RenderedMail {
            subject,
            text: self.render(TEXT, &context)?,
            html: self.render(HTML, &context)?,
        })
    }

    fn render(&self, name: &str, context: &Value) -> Result<String, TemplateError> {
        let origin_of = |name: &str| {
            self.origins
                .get(name)
                .cloned()
                .unwrap_or_else(|| format!("built-in {name}"))
        };
        self.env
            .get_template(name)
            .and_then(|template| template.render(context))
            .map_err(|e| TemplateError::from_minijinja(&origin_of(e.name().unwrap_or(name)), &e))
    }

    /// Every template rendered with sample mails, with and without a message and a payer's
    /// name, so that both sides of their `if`s run.
    fn try_samples(&self) -> Result<(), TemplateError> {
        for sample in samples() {
            let context = Value::from(Serde(&sample));
            if one_line(&self.render(SUBJECT, &context)?).is_empty() {
                return Err(TemplateError::unusable(
                    &self.origins[SUBJECT],
                    "the subject is empty",
                ));
            }
            for name in [TEXT, HTML] {
                if !self.render(name, &context)?.contains(&sample.pay_url) {
                    return Err(TemplateError::unusable(
                        &self.origins[name],
                        "the pay URL ({{ pay_url }}) is not in it",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The environment every template compiles in: undefined variables are errors; `.html`
/// templates escape what they print; a block tag's own line leaves no blank line
/// (`trim_blocks`, `lstrip_blocks`); the `nl2br` filter.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(html::formatter);
    env.add_filter("nl2br", html::nl2br);
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build();
    // The default delimiters always build; should that change, minijinja's defaults stand.
    if let Ok(syntax) = syntax {
        env.set_syntax(syntax);
    }
    env
}

/// The templates in `dir`: each one's name, file path (for errors) and source.
fn overrides(dir: &Path) -> Result<Vec<(&'static str, String, String)>, TemplateError> {
    let directory_error = |source| TemplateError::Directory {
        path: dir.to_owned(),
        source,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(directory_error)? {
        let entry = entry.map_err(directory_error)?;
        let file_name = entry.file_name();
        let path = entry.path();
        if file_name.to_string_lossy().starts_with('.') {
            continue;
        }
        let Some(&(name, _)) = builtin::TEMPLATES
            .iter()
            .find(|(name, _)| file_name.to_str() == Some(name))
        else {
            return Err(TemplateError::UnknownFile { path });
        };
        let source = std::fs::read_to_string(&path).map_err(|source| TemplateError::Read {
            path: path.clone(),
            source,
        })?;
        found.push((name, path.display().to_string(), source));
    }
    Ok(found)
}

/// The mails every template is tried with at load.
fn samples() -> [PayLinkMail; 2] {
    let mail = PayLinkMail {
        organisation: "Riverside Youth Soccer".to_owned(),
        payer_name: "Pat Parent".to_owned(),
        product: "Spring season".to_owned(),
        amount: "$45.00".to_owned(),
        pay_url: "https://pay.example.org/pay/sample-token".to_owned(),
        message: Some("Practice starts Monday.\nSee you <there> & then!".to_owned()),
    };
    let bare = PayLinkMail {
        payer_name: String::new(),
        message: None,
        ..mail.clone()
    };
    [mail, bare]
}

/// A message of only whitespace is no message; one with text is trimmed.
fn blank_as_none<S: Serializer>(message: &Option<String>, out: S) -> Result<S::Ok, S::Error> {
    match message.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => out.serialize_some(text),
        _ => out.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A directory of its own under the system's temporary one, removed when dropped.
    struct Dir(PathBuf);

    impl Dir {
        fn with(files: &[(&str, &str)]) -> Self {
            let dir = std::env::temp_dir().join(format!("paylink-mail-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir(&dir).expect("temporary directory");
            for (name, text) in files {
                std::fs::write(dir.join(name), text).expect("template file");
            }
            Self(dir)
        }

        fn file(&self, name: &str) -> String {
            self.0.join(name).display().to_string()
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn mail() -> PayLinkMail {
        PayLinkMail {
            organisation: "Riverside Youth Soccer".to_owned(),
            payer_name: "Pat".to_owned(),
            product: "April dues".to_owned(),
            amount: "$45.00".to_owned(),
            pay_url: "https://pay.example.org/pay/tok_123?a=1&b=2".to_owned(),
            message: None,
        }
    }

    fn built_in() -> MailTemplates {
        MailTemplates::load(None).expect("the built-in templates load")
    }

    fn load_error(files: &[(&str, &str)]) -> (Dir, String) {
        let dir = Dir::with(files);
        let error = MailTemplates::load(Some(&dir.0)).expect_err("the templates are refused");
        (dir, error.to_string())
    }

    #[test]
    fn the_built_in_templates_show_every_variable() {
        let rendered = built_in()
            .render_pay_link(&PayLinkMail {
                message: Some("Practice moves to Field 2.".to_owned()),
                ..mail()
            })
            .expect("renders");
        assert_eq!(rendered.subject, "Payment for April dues: $45.00");
        for part in [&rendered.text, &rendered.html] {
            for shown in ["Pat", "April dues", "$45.00", "Riverside Youth Soccer"] {
                assert!(part.contains(shown), "{shown} missing from {part}");
            }
            assert!(part.contains("Practice moves to Field 2."), "{part}");
        }
        assert!(
            rendered
                .text
                .lines()
                .any(|line| line == "https://pay.example.org/pay/tok_123?a=1&b=2"),
            "the pay URL is on a line of its own:\n{}",
            rendered.text
        );
        let url = "https://pay.example.org/pay/tok_123?a=1&amp;b=2";
        assert_eq!(
            rendered.html.matches(&format!("href=\"{url}\"")).count(),
            2,
            "the button and the link under it:\n{}",
            rendered.html
        );
        assert!(rendered.html.contains(&format!(">{url}</a>")));
        assert!(rendered.html.contains(">Pay $45.00</a>"));
        let message_at = rendered.html.find("Practice moves");
        let button_at = rendered.html.find(">Pay $45.00<");
        assert!(message_at < button_at, "the message is above the button");
    }

    #[test]
    fn the_built_in_html_is_a_plain_email() {
        let html = built_in().render_pay_link(&mail()).expect("renders").html;
        for absent in ["<script", "<img", "<link", "src=", "url("] {
            assert!(!html.contains(absent), "{absent} in the HTML");
        }
        assert!(html.contains("<table role=\"presentation\""));
    }

    #[test]
    fn without_a_message_or_a_name_the_mail_reads_well() {
        let templates = built_in();
        let paragraphs = |html: &str| html.matches("<p ").count();
        let with_message = templates
            .render_pay_link(&PayLinkMail {
                message: Some("Hello".to_owned()),
                ..mail()
            })
            .expect("renders");
        for message in [None, Some(String::new()), Some(" \n ".to_owned())] {
            let rendered = templates
                .render_pay_link(&PayLinkMail {
                    payer_name: String::new(),
                    message,
                    ..mail()
                })
                .expect("renders");
            assert!(
                rendered
                    .text
                    .starts_with("Hi,\n\nHere is your payment link"),
                "{}",
                rendered.text
            );
            assert!(!rendered.text.contains("\n\n\n"), "{}", rendered.text);
            assert!(rendered.html.contains(">Hi,</p>"));
            assert_eq!(
                paragraphs(&rendered.html) + 1,
                paragraphs(&with_message.html),
                "no message paragraph:\n{}",
                rendered.html
            );
        }
    }

    #[test]
    fn what_people_typed_is_escaped_in_the_html_and_as_typed_in_the_text() {
        let rendered = built_in()
            .render_pay_link(&PayLinkMail {
                organisation: "Tom & Jerry's <League>".to_owned(),
                payer_name: "<b>Bob</b> & Co".to_owned(),
                product: "\"U12\" <dues>".to_owned(),
                message: Some("Line one <script>alert(1)</script>\nLine two & more".to_owned()),
                ..mail()
            })
            .expect("renders");
        let html = &rendered.html;
        assert!(
            html.contains("Hi &lt;b&gt;Bob&lt;/b&gt; &amp; Co,"),
            "{html}"
        );
        assert!(
            html.contains("Tom &amp; Jerry&#39;s &lt;League&gt;"),
            "{html}"
        );
        assert!(html.contains("&quot;U12&quot; &lt;dues&gt;"), "{html}");
        assert!(
            html.contains(
                "Line one &lt;script&gt;alert(1)&lt;/script&gt;<br>\nLine two &amp; more"
            ),
            "{html}"
        );
        for raw in ["<b>", "<script>", "<League>", "<dues>"] {
            assert!(!html.contains(raw), "{raw} unescaped in {html}");
        }
        let text = &rendered.text;
        assert!(text.contains("Hi <b>Bob</b> & Co,"), "{text}");
        assert!(text.contains("Line one <script>alert(1)</script>\nLine two & more"));
        assert!(text.contains("Tom & Jerry's <League>"));
        assert_eq!(rendered.subject, "Payment for \"U12\" <dues>: $45.00");
    }

    #[test]
    fn a_file_in_the_directory_overrides_its_template_only() {
        let dir = Dir::with(&[(
            "pay_link.subject.txt",
            "{{ organisation }}: {{ amount }} for {{ product }}",
        )]);
        let templates = MailTemplates::load(Some(&dir.0)).expect("loads");
        let rendered = templates.render_pay_link(&mail()).expect("renders");
        assert_eq!(
            rendered.subject,
            "Riverside Youth Soccer: $45.00 for April dues"
        );
        assert_eq!(
            rendered.text,
            built_in().render_pay_link(&mail()).expect("renders").text
        );
        assert_eq!(
            rendered.html,
            built_in().render_pay_link(&mail()).expect("renders").html
        );
    }

    #[test]
    fn an_empty_directory_and_hidden_files_leave_the_built_in_templates() {
        let dir = Dir::with(&[(".pay_link.html.swp", "{{ broken"), ("..data", "")]);
        let templates = MailTemplates::load(Some(&dir.0)).expect("loads");
        assert_eq!(
            templates.render_pay_link(&mail()).expect("renders"),
            built_in().render_pay_link(&mail()).expect("renders")
        );
    }

    #[test]
    fn the_subject_is_one_line_and_never_empty() {
        let dir = Dir::with(&[(
            "pay_link.subject.txt",
            "\n  {{ product }}\n\tfor\r\n{{ payer_name }}  \n\n",
        )]);
        let templates = MailTemplates::load(Some(&dir.0)).expect("loads");
        let folded = templates
            .render_pay_link(&PayLinkMail {
                product: "April\ndues".to_owned(),
                ..mail()
            })
            .expect("renders");
        assert_eq!(folded.subject, "April dues for Pat");

        let dir = Dir::with(&[("pay_link.subject.txt", "{{ product }}")]);
        let templates = MailTemplates::load(Some(&dir.0)).expect("loads");
        let empty = templates
            .render_pay_link(&PayLinkMail {
                product: String::new(),
                payer_name: " \n".to_owned(),
                ..mail()
            })
            .expect("renders");
        assert_eq!(
            empty.subject, "Payment for : $45.00",
            "the built-in subject stands in"
        );
    }

    #[test]
    fn a_syntax_error_names_the_file_and_line() {
        let (dir, error) = load_error(&[(
            "pay_link.html",
            "<p>Hi {{ payer_name }}</p>\n<a href=\"{{ pay_url }}\">Pay</a>\n{% if message %}\n<p>{{ message }}</p>\n",
        )]);
        let expected = format!("mail template {}, line ", dir.file("pay_link.html"));
        assert!(error.starts_with(&expected), "{error}");
        assert!(error.contains("syntax error"), "{error}");
    }

    #[test]
    fn a_syntax_error_on_a_known_line_is_reported_at_it() {
        let (dir, error) = load_error(&[("pay_link.txt", "Hi\n{{ pay_url }}\n{{ amount | }}\n")]);
        let expected = format!(
            "mail template {}, line 3: syntax error",
            dir.file("pay_link.txt")
        );
        assert!(error.starts_with(&expected), "{error}");
    }

    #[test]
    fn an_unknown_variable_names_the_file_and_line() {
        let (dir, error) = load_error(&[(
            "pay_link.txt",
            "Hi {{ payer_name }},\n\n{{ payer_nmae }}\n{{ pay_url }}\n",
        )]);
        assert_eq!(
            error,
            format!(
                "mail template {}, line 3: undefined value: `payer_nmae` is undefined",
                dir.file("pay_link.txt")
            )
        );
    }

    #[test]
    fn an_unknown_variable_is_found_behind_an_if() {
        let (dir, error) = load_error(&[(
            "pay_link.html",
            "<a href=\"{{ pay_url }}\">Pay</a>\n{% if message %}\n<p>{{ mesage }}</p>\n{% endif %}\n",
        )]);
        assert_eq!(
            error,
            format!(
                "mail template {}, line 3: undefined value: `mesage` is undefined",
                dir.file("pay_link.html")
            )
        );
    }

    #[test]
    fn an_unknown_file_name_is_refused_by_name() {
        let (dir, error) = load_error(&[("pay_link.htm", "{{ pay_url }}")]);
        assert_eq!(
            error,
            format!(
                "unknown mail template file {}: the templates are pay_link.subject.txt, \
                 pay_link.txt, pay_link.html",
                dir.file("pay_link.htm")
            )
        );
    }

    #[test]
    fn a_template_without_the_pay_url_or_a_subject_is_refused() {
        let (dir, error) = load_error(&[("pay_link.txt", "Hi {{ payer_name }}, please pay.")]);
        assert_eq!(
            error,
            format!(
                "mail template {}: the pay URL ({{{{ pay_url }}}}) is not in it",
                dir.file("pay_link.txt")
            )
        );
        let (dir, error) = load_error(&[("pay_link.subject.txt", "{% if false %}x{% endif %}\n")]);
        assert_eq!(
            error,
            format!(
                "mail template {}: the subject is empty",
                dir.file("pay_link.subject.txt")
            )
        );
    }

    #[test]
    fn a_missing_directory_is_named() {
        let dir = Dir::with(&[]);
        let missing = dir.0.join("nowhere");
        let error = MailTemplates::load(Some(&missing))
            .expect_err("refused")
            .to_string();
        assert!(
            error.starts_with(&format!("mail templates directory {}: ", missing.display())),
            "{error}"
        );
    }

    #[test]
    fn a_built_in_template_is_named_as_such() {
        let mut env = environment();
        let compiled = env.add_template_owned(HTML, "<p>\n{{ payer_name }\n</p>");
        let error =
            TemplateError::from_minijinja("built-in pay_link.html", &compiled.expect_err("fails"));
        assert!(
            error
                .to_string()
                .starts_with("mail template built-in pay_link.html, line 2: syntax error"),
            "{error}"
        );
    }

    #[test]
    fn the_templates_can_be_shared_between_tasks() {
        fn shared<T: Send + Sync + 'static>() {}
        shared::<MailTemplates>();
    }
}
