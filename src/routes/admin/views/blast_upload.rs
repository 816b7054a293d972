//! A new blast from a CSV file: the upload form, the file's problems by line, and its preview
//! with the confirm form.

use maud::{Markup, html};
use paylink_core::blasts::Preview;

use super::{layout, path_segment};
use crate::blast_csv::{Parsed, Problem};

/// The upload form, with what was wrong with the last upload, if anything.
pub fn upload_page(csrf: &str, error: Option<&str>) -> Markup {
    layout(
        "New blast",
        csrf,
        html! {
            h1 { "New blast from a CSV file" }
            @if let Some(error) = error { p.error { (error) } }
            (upload_form(csrf))
        },
    )
}

fn upload_form(csrf: &str) -> Markup {
    html! {
        p.muted { "One order per row. The header names the columns external_ref, payer_email, payer_name, product_id (or product: a product's id or its name), amount_cents (in cents: 4500 is $45.00) and optionally currency. Nothing is created until you confirm the preview." }
        form method="post" action="/admin/blasts/preview" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(csrf);
            p { label { "CSV file " input type="file" name="file" accept=".csv,text/csv" required; } }
            p { label { "Blast name " input type="text" name="name" placeholder="the file's name"; } }
            button.primary type="submit" { "Preview" }
        }
    }
}

/// The file's problems, each by its line (the header is line 1); nothing was created.
pub fn problems_page(csrf: &str, file_name: &str, problems: &[Problem]) -> Markup {
    layout(
        "Problems in the file",
        csrf,
        html! {
            h1 { "Problems in " (file_name) }
            p.error { (problems.len()) " problem(s); nothing was created. Fix the file and upload it again." }
            div.scroll { table id="problems" {
                tr { th { "line" } th { "problem" } }
                @for p in problems {
                    tr { td { @if p.line > 0 { (p.line) } @else { "–" } } td { (p.message) } }
                }
            } }
            h2 { "Upload again" }
            (upload_form(csrf))
        },
    )
}

/// What the confirm form carries: the uploaded file itself, never a summary of it.
pub struct Carried<'a> {
    pub name: &'a str,
    pub file_name: &'a str,
    /// The file, base64 (a hidden field's value keeps every byte, line ends included).
    pub csv: String,
    pub sha256: String,
}

/// What the blast would create, its warnings by line, and the Confirm button.
pub fn preview_page(csrf: &str, preview: &Preview, parsed: &Parsed, carried: &Carried) -> Markup {
    let totals: Vec<&str> = preview
        .currencies
        .iter()
        .filter(|c| c.new_count > 0)
        .map(|c| c.formatted.new_total.as_str())
        .collect();
    layout(
        "Preview",
        csrf,
        html! {
            h1 { "Preview of blast " (preview.name) }
            p id="summary" { (preview.rows) " rows: " (preview.new) " new orders, " (preview.existing) " already exist"
                @for id in &preview.existing_blasts { " (in " a href=(format!("/admin/blasts/{}", path_segment(id))) { (id) } ")" } "." }
            div.scroll { table id="totals" {
                tr { th { "currency" } th { "orders" } th { "total" } th { "smallest" } th { "largest" } th { "new orders" } th { "new total" } }
                @for c in &preview.currencies {
                    tr { td { (c.currency.to_ascii_uppercase()) } td { (c.count) } td { (c.formatted.total) } td { (c.formatted.min) } td { (c.formatted.max) } td { (c.new_count) } td { (c.formatted.new_total) } }
                }
            } }
            @if !preview.warnings.is_empty() {
                h2 { "Check before you confirm" }
                ul id="warnings" {
                    @for w in &preview.warnings {
                        @let lines: Vec<String> = parsed.lines_of(&w.rows).iter().map(u64::to_string).collect();
                        li.error data-code=(w.code) { (w.message) " (line(s) " (lines.join(", ")) ")" }
                    }
                }
            }
            p.muted { (carried.file_name) " · SHA-256 " (carried.sha256) }
            @if preview.new == 0 {
                p { "Every row already is an order: there is nothing to create." }
            } @else {
                form method="post" action="/admin/blasts/create" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="name" value=(carried.name);
                    input type="hidden" name="file_name" value=(carried.file_name);
                    input type="hidden" name="csv" value=(carried.csv);
                    input type="hidden" name="sha256" value=(carried.sha256);
                    button.primary type="submit" { "Confirm: create " (preview.new) " orders totalling " (totals.join(" + ")) }
                }
            }
            p { a href="/admin/blasts/new" { "Upload another file" } }
        },
    )
}
