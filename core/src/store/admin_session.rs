//! Dashboard sessions: one row per login, keyed by the SHA-256 of the secret the browser holds
//! in its cookie (so the table alone cannot be used to log in). A session ends at logout (the
//! row is deleted), after `idle` without a request, or `max_age` after the login, whichever
//! comes first. Rows past either limit are deleted at the next login.
//!
//! Each row also keeps the fingerprint of the admin token that opened it (computed by the
//! intake, never the token itself): a session checked under another token does not count, so
//! changing the token ends every session opened under the old one. Such rows are left for the
//! sweep rather than deleted at once, so that during a rolling restart the intakes still on
//! the old token keep their sessions until they restart too.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::RngCore as _;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ActiveValue::Set, ConnectionTrait, QueryFilter};
use sha2::{Digest as _, Sha256};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admin_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id_hash: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The fingerprint of the admin token the login presented (empty for rows from before
    /// fingerprints, which then match no token).
    pub token_fingerprint: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// How long a session lives.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Without a request for this long, the session ends.
    pub idle: Duration,
    /// This long after the login, the session ends however busy it is.
    pub max_age: Duration,
}

/// `last_seen_at` is written at most this often, so a busy dashboard is not a write per page.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn ago(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Starts a session under the admin token whose fingerprint is `token_fingerprint` and answers
/// the secret for the cookie (256 random bits, hex). Ended sessions are swept on the way.
pub async fn open<C: ConnectionTrait>(
    db: &C,
    token_fingerprint: &str,
    limits: Limits,
) -> Result<String, DbErr> {
    let now = Utc::now();
    Entity::delete_many()
        .filter(
            Condition::any()
                .add(Column::LastSeenAt.lt(ago(now, limits.idle)))
                .add(Column::CreatedAt.lt(ago(now, limits.max_age))),
        )
        .exec(db)
        .await?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    Entity::insert(ActiveModel {
        id_hash: Set(hash(&secret)),
        created_at: Set(now),
        last_seen_at: Set(now),
        token_fingerprint: Set(token_fingerprint.to_owned()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(secret)
}

/// Whether `secret` names a live session opened under the admin token whose fingerprint is
/// `token_fingerprint`; a live one is marked as seen now.
pub async fn check<C: ConnectionTrait>(
    db: &C,
    secret: &str,
    token_fingerprint: &str,
    limits: Limits,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let id_hash = hash(secret);
    let Some(found) = Entity::find_by_id(id_hash.clone()).one(db).await? else {
        return Ok(false);
    };
    if found.last_seen_at < ago(now, limits.idle) || found.created_at < ago(now, limits.max_age) {
        return Ok(false);
    }
    // Reaching here takes a live session's secret already: the fingerprint is no secret to
    // compare in constant time.
    if token_fingerprint.is_empty() || found.token_fingerprint != token_fingerprint {
        return Ok(false);
    }
    if found.last_seen_at < now - TOUCH_EVERY {
        Entity::update_many()
            .col_expr(Column::LastSeenAt, Expr::value(now))
            .filter(Column::IdHash.eq(id_hash))
            .exec(db)
            .await?;
    }
    Ok(true)
}

/// Ends the session `secret` names (logout); nothing happens for an unknown one.
pub async fn close<C: ConnectionTrait>(db: &C, secret: &str) -> Result<(), DbErr> {
    Entity::delete_by_id(hash(secret)).exec(db).await?;
    Ok(())
}
