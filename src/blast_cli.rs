//! `paylink blast FILE.csv [--name N] [--out RESULT.csv] [--no-wait] [--dry-run] [--yes]`: one
//! order per CSV row, a preview before anything is created (and, at a terminal, a question), a
//! progress bar while workers mint the links, a closing summary, and the result as CSV.
//!
//! The file has a header row with the columns `external_ref, payer_email, payer_name,
//! product_id (or product: an id or a name), amount_cents` and optionally `currency`.
//! Re-running the same file creates nothing new. The orders go into the database; running
//! workers (`paylink work` or `paylink run`) mint them at Stripe's pace.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use paylink_core::store::blast;

use crate::bad_input::BadInput;
use crate::blast_csv;
use crate::blast_export;
use crate::blast_preview;
use crate::config::Settings;
use paylink_core::blasts::{self, BlastError};

/// The command's flags.
#[derive(Debug, Default)]
pub struct Options {
    pub name: Option<String>,
    pub out: Option<PathBuf>,
    pub no_wait: bool,
    /// Show the preview and create nothing.
    pub dry_run: bool,
    /// Do not ask, even at a terminal.
    pub yes: bool,
    /// `--send-email`: mail every payer their pay link.
    pub mail: Option<Mail>,
}

/// `--send-email [--email-message TEXT]`.
#[derive(Debug)]
pub struct Mail {
    pub message: Option<String>,
}

pub async fn run(settings: &Settings, file: PathBuf, options: Options) -> anyhow::Result<()> {
    let Options {
        name,
        out,
        no_wait,
        dry_run,
        yes,
        mail,
    } = options;
    // Asked for mail: sending must be on, and the message fit, before anything is created.
    let mail_message = match &mail {
        Some(mail) => {
            if settings.email.smtp_url.is_none() {
                return Err(BadInput(
                    "--send-email: sending is off; set PAYLINK__EMAIL__SMTP_URL (docs/email.md)"
                        .into(),
                )
                .into());
            }
            paylink_core::emails::checked_message(mail.message.as_deref())
                .map_err(|e| BadInput(format!("--email-message: {}", e.message)))?
        }
        None => None,
    };
    let parsed = blast_csv::read(&file)?;
    if !parsed.ignored.is_empty() {
        println!("ignoring the column(s) {}", parsed.ignored.join(", "));
    }
    let name = name.unwrap_or_else(|| {
        file.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "blast".into())
    });
    println!(
        "database: {}",
        crate::startup::describe_database(&settings.database.url)
    );
    // The embedded default is a file relative to the current folder: run from elsewhere, it
    // would be a new, empty database in which no product exists.
    if let Some(missing) = crate::startup::missing_sqlite_file(&settings.database.url) {
        return Err(BadInput(format!(
            "there is no database at {}: run paylink blast from the folder `paylink run` runs \
             in, or set PAYLINK__DATABASE__URL to the deployment's database",
            missing.display()
        ))
        .into());
    }
    let db = crate::startup::connect_database(settings).await?;
    let base = deployment_base_url(&db, settings).await?;
    if parsed.orders.is_empty() && parsed.problems.is_empty() {
        return Err(BadInput(format!("{} has no data rows", file.display())).into());
    }
    refuse_problems(&db, &file, &name, &parsed).await?;
    let preview = blasts::preview(&db, &name, &parsed.orders)
        .await
        .map_err(|e| refusal(&file, &parsed, e))?;
    blast_preview::print(&parsed, &preview);
    if dry_run {
        println!("dry run: nothing was created");
        return Ok(());
    }
    if preview.new > 0
        && !yes
        && std::io::stdin().is_terminal()
        && !blast_preview::confirm(&preview)?
    {
        anyhow::bail!("not confirmed: nothing was created");
    }
    let created = blasts::create(&db, &name, parsed.orders.clone())
        .await
        .map_err(|e| refusal(&file, &parsed, e))?;
    if mail.is_some() {
        paylink_core::store::email::request_for_blast(&db, &created.id, mail_message.as_deref())
            .await?;
        println!("each payer is mailed their pay link once it is made");
    }
    println!("{}", blast_preview::outcome(&created, &preview.id));
    finish(&db, &created, no_wait, out, &base).await
}

/// Waits for the links (unless `no_wait`), says how they stand, and writes the links file;
/// exit 1 when a link failed.
async fn finish(
    db: &sea_orm::DatabaseConnection,
    created: &blasts::Created,
    no_wait: bool,
    out: Option<PathBuf>,
    base: &str,
) -> anyhow::Result<()> {
    let counts = if no_wait {
        blast::counts(db, &created.id).await?
    } else {
        wait(db, &created.id, created.size as u64).await?
    };
    let p = &counts.progress;
    println!(
        "{} links ready to pay, {} paid, {} cancelled, {} failed, {} not made yet (of {})",
        p.ready, p.paid, p.cancelled, p.failed, p.not_yet, created.size
    );
    if let Some(out) = out {
        let rows =
            blast_export::all_rows(db, &created.id, |token| format!("{base}/pay/{token}")).await?;
        std::fs::write(&out, blast_export::to_csv(&rows)?)
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!("wrote {} rows to {}", rows.len(), out.display());
    }
    if counts.failed > 0 {
        anyhow::bail!(
            "{} link(s) failed; see last_error in the result or GET /v1/orders/{{id}}",
            counts.failed
        );
    }
    Ok(())
}

/// A refusal found since the checks above (another blast stored a row's `external_ref`
/// meanwhile), in the file's terms.
fn refusal(file: &Path, parsed: &blast_csv::Parsed, error: BlastError) -> anyhow::Error {
    match error {
        BlastError::InvalidRows(rows, total) => report(file, parsed.locate(&rows), total).into(),
        BlastError::Invalid(problem) => BadInput(blast_csv::blast_problem(
            file,
            &problem.field,
            &problem.message,
        ))
        .into(),
        BlastError::Database(e) => anyhow::Error::new(e).context("failed to store the blast"),
    }
}

/// Every problem with the file, those of reading it and those of the orders in it (an unknown
/// product, a bad email, an `external_ref` used twice), each on its own line; then exit 2 with
/// nothing created.
async fn refuse_problems(
    db: &sea_orm::DatabaseConnection,
    file: &Path,
    name: &str,
    parsed: &blast_csv::Parsed,
) -> anyhow::Result<()> {
    let problems = match blast_preview::file_problems(db, name, parsed).await {
        Ok(problems) => problems,
        Err(BlastError::Database(e)) => return Err(e).context("failed to check the blast"),
        Err(e) => return Err(refusal(file, parsed, e)),
    };
    if problems.is_empty() {
        return Ok(());
    }
    let unknown_product = problems.iter().any(|p| p.message.contains("no product"));
    let total = problems.len();
    let error = report(file, problems, total);
    if unknown_product {
        eprintln!(
            "products are looked up in the database named above; if they exist, is it the \
             deployment's (PAYLINK__DATABASE__URL)?"
        );
    }
    Err(error.into())
}

/// Prints each problem on its own line and answers the closing error (exit 2).
fn report(file: &Path, problems: Vec<blast_csv::Problem>, total: usize) -> BadInput {
    let lines: std::collections::BTreeSet<u64> = problems.iter().map(|p| p.line).collect();
    for p in &problems {
        eprintln!("{} line {}: {}", file.display(), p.line, p.message);
    }
    BadInput(format!(
        "{total} problem(s) on {} line(s) of {}; nothing was created",
        lines.len(),
        file.display()
    ))
}

/// The base of pay URLs: the one the intake recorded in the database at its start (so the file
/// holds the deployment's URLs whatever this machine's environment says), else this command's
/// own `public_base_url`, with a warning saying so.
async fn deployment_base_url(
    db: &sea_orm::DatabaseConnection,
    settings: &Settings,
) -> anyhow::Result<String> {
    use paylink_core::store::deployment;
    let recorded = deployment::get(db, deployment::PUBLIC_BASE_URL)
        .await
        .context("failed to read the intake's public base URL from the database")?;
    Ok(match recorded {
        Some(recorded) => {
            let base = recorded.value.trim_end_matches('/').to_owned();
            let own = settings.public_base_url.trim_end_matches('/');
            println!(
                "public base URL: {base} (recorded by the intake at {}{})",
                recorded.updated_at.format("%Y-%m-%d %H:%M UTC"),
                if own == base {
                    String::new()
                } else {
                    format!("; this command's own {own} is not used")
                }
            );
            base
        }
        None => {
            let own = settings.public_base_url.trim_end_matches('/').to_owned();
            eprintln!(
                "warning: no intake has recorded its public base URL in this database (start \
                 `paylink serve` or `paylink run` on it once); pay URLs use this command's \
                 PAYLINK__PUBLIC_BASE_URL instead: {own}"
            );
            println!("public base URL: {own} (this command's own setting)");
            own
        }
    })
}

/// Shows progress until no order of the blast is still minting.
pub(crate) async fn wait(
    db: &sea_orm::DatabaseConnection,
    id: &str,
    size: u64,
) -> anyhow::Result<blast::Counts> {
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} done · {msg} · {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut last_progress = (0, Instant::now());
    loop {
        let counts = blast::counts(db, id).await?;
        let done = (counts.active + counts.deactivated + counts.failed) as u64;
        let minted = counts.active + counts.deactivated;
        let rate = minted as f64 / started.elapsed().as_secs_f64().max(0.001);
        bar.set_position(done);
        if done != last_progress.0 {
            last_progress = (done, Instant::now());
        }
        let stalled = last_progress.1.elapsed() > Duration::from_secs(15);
        let hint = if !stalled {
            ""
        } else if paylink_core::stripe_key::refusal(db).await?.is_some() {
            " · paused: Stripe refused paylink's API key (the dashboard says what to change)"
        } else {
            " · no progress: is `paylink work` or `paylink run` running?"
        };
        bar.set_message(format!(
            "links made {minted}, failed {} · {rate:.1} links/s{hint}",
            counts.failed
        ));
        if counts.minting == 0 {
            bar.finish();
            return Ok(counts);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
