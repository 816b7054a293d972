//! A blast's preview as `paylink blast` prints it (rows, new and existing, totals per currency,
//! warnings by CSV line), the question it asks at a terminal, and the closing line saying what
//! was created (docs/api.md, "Billing blasts").

use std::io::{BufRead as _, Write as _};

use paylink_core::blasts::{self, BlastError, Created, Preview};
use sea_orm::DatabaseConnection;

use crate::blast_csv::{Parsed, Problem};

/// Every problem with a blast's file, sorted by line: those of reading it and every one the
/// core finds in its orders (an unknown product, a bad email, an `external_ref` used twice).
/// `Err` for a problem of the blast as a whole (its name, its size), unless reading problems
/// already explain it (no readable row).
pub async fn file_problems(
    db: &DatabaseConnection,
    name: &str,
    parsed: &Parsed,
) -> Result<Vec<Problem>, BlastError> {
    let checked = match blasts::problems(db, name, &parsed.orders).await {
        Ok(errors) => parsed.locate(&errors),
        Err(BlastError::Invalid(_)) if !parsed.problems.is_empty() => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut problems: Vec<Problem> = parsed.problems.iter().cloned().chain(checked).collect();
    problems.sort_by_key(|p| p.line);
    Ok(problems)
}

/// The preview, warnings naming the file's lines.
pub fn print(parsed: &Parsed, preview: &Preview) {
    println!(
        "{} row(s): {} new order(s), {} already exist{}",
        preview.rows,
        preview.new,
        preview.existing,
        held_by(&preview.existing_blasts)
    );
    for c in &preview.currencies {
        println!(
            "  {}: {} order(s) totalling {} (smallest {}, largest {}); new: {} totalling {}",
            c.currency.to_ascii_uppercase(),
            c.count,
            c.formatted.total,
            c.formatted.min,
            c.formatted.max,
            c.new_count,
            c.formatted.new_total
        );
    }
    for w in &preview.warnings {
        let lines: Vec<String> = parsed
            .lines_of(&w.rows)
            .iter()
            .map(u64::to_string)
            .collect();
        println!(
            "warning ({}): {} (line(s) {})",
            w.code,
            w.message,
            lines.join(", ")
        );
    }
}

/// ` (in blast bl_…, …)` when rows already are orders of blasts.
fn held_by(blasts: &[String]) -> String {
    if blasts.is_empty() {
        String::new()
    } else {
        format!(" (in blast {})", blasts.join(", "))
    }
}

/// The new orders' totals, one per currency: `$45.00 + €12.00`.
pub fn new_totals(preview: &Preview) -> String {
    preview
        .currencies
        .iter()
        .filter(|c| c.new_count > 0)
        .map(|c| c.formatted.new_total.as_str())
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Asks `Create N orders totalling …? [y/N]` and reads the answer: only `y` or `yes` creates.
pub fn confirm(preview: &Preview) -> anyhow::Result<bool> {
    print!(
        "Create {} orders totalling {}? [y/N] ",
        preview.new,
        new_totals(preview)
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// What was created: the new blast, the same blast again, or the blast that already holds
/// every row (`previewed` is the id this file's blast would have had).
pub fn outcome(created: &Created, previewed: &str) -> String {
    let what = if created.created {
        match created.existing {
            0 => String::new(),
            n => format!(
                " ({n} row(s) already were orders{}: not created again)",
                held_by(&created.existing_blasts)
            ),
        }
    } else if created.id == previewed {
        " (already submitted: nothing new created)".to_owned()
    } else {
        " (every row already is an order of this blast: nothing new created)".to_owned()
    };
    format!(
        "blast {} \"{}\": {} orders{what}",
        created.id, created.name, created.size
    )
}
