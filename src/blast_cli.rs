//! `paylink blast FILE.csv [--name N] [--out RESULT.csv] [--no-wait]`: one order per CSV row,
//! a progress bar while workers mint the links, a closing summary, and the result as CSV.
//!
//! The file has a header row with the columns `external_ref, payer_email, payer_name,
//! product_id, amount_cents` and optionally `currency`. Re-running the same file creates nothing
//! new. The orders go into the database; running workers (`paylink work` or `paylink run`) mint
//! them at Stripe's pace.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use paylink_core::store::blast;
use serde::Deserialize;

use crate::blast_export;
use crate::config::{ConfigError, Settings};
use paylink_core::blasts::{self, BlastError};
use paylink_core::domain::{OrderInput, Payer};

#[derive(Debug, Deserialize)]
struct CsvRow {
    external_ref: String,
    payer_email: String,
    payer_name: String,
    product_id: String,
    amount_cents: i64,
    #[serde(default)]
    currency: Option<String>,
}

/// Reads the file into orders; a row that cannot be read names its line and the problem.
pub fn read_csv(path: &Path) -> anyhow::Result<Vec<OrderInput>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut orders = Vec::new();
    for (i, record) in reader.deserialize::<CsvRow>().enumerate() {
        let row = record.map_err(|e| {
            ConfigError(format!(
                "{}: data row {i} (line {}): {e}",
                path.display(),
                i + 2
            ))
        })?;
        orders.push(OrderInput {
            external_ref: row.external_ref,
            product_id: row.product_id,
            amount_cents: row.amount_cents,
            currency: row.currency.filter(|c| !c.is_empty()),
            payer: Payer {
                email: row.payer_email,
                name: row.payer_name,
            },
        });
    }
    Ok(orders)
}

pub async fn run(
    settings: &Settings,
    file: PathBuf,
    name: Option<String>,
    out: Option<PathBuf>,
    no_wait: bool,
) -> anyhow::Result<()> {
    let orders = read_csv(&file)?;
    let name = name.unwrap_or_else(|| {
        file.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "blast".into())
    });
    println!(
        "database: {}",
        crate::startup::describe_database(&settings.database.url)
    );
    let db = crate::startup::connect_database(settings).await?;
    let base = deployment_base_url(&db, settings).await?;
    let created = match blasts::create(&db, &name, orders).await {
        Ok(created) => created,
        Err(BlastError::InvalidRows(rows, total)) => {
            for e in &rows {
                eprintln!("data row {} (line {}): {}", e.row, e.row + 2, e.message);
            }
            return Err(ConfigError(format!(
                "{total} row(s) of {} are invalid; nothing was created",
                file.display()
            ))
            .into());
        }
        Err(BlastError::Invalid(problem)) => return Err(ConfigError(problem.message).into()),
        Err(BlastError::Database(e)) => return Err(e).context("failed to store the blast"),
    };
    println!(
        "blast {} \"{}\": {} orders{}",
        created.id,
        created.name,
        created.size,
        if created.created {
            ""
        } else {
            " (already submitted: nothing new created)"
        }
    );
    let counts = if no_wait {
        blast::counts(&db, &created.id).await?
    } else {
        wait(&db, &created.id, created.size as u64).await?
    };
    println!(
        "minted {}, failed {}, still minting {}, paid {}, deactivated {}",
        counts.active + counts.deactivated,
        counts.failed,
        counts.minting,
        counts.paid,
        counts.deactivated
    );
    if let Some(out) = out {
        let rows =
            blast_export::all_rows(&db, &created.id, |token| format!("{base}/pay/{token}")).await?;
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
            println!(
                "public base URL: {base} (recorded by the intake at {})",
                recorded.updated_at.format("%Y-%m-%d %H:%M UTC")
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
        let hint = if last_progress.1.elapsed() > Duration::from_secs(15) {
            " · no progress: is `paylink work` or `paylink run` running?"
        } else {
            ""
        };
        bar.set_message(format!(
            "minted {minted}, failed {} · {rate:.1} links/s{hint}",
            counts.failed
        ));
        if counts.minting == 0 {
            bar.finish();
            return Ok(counts);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
