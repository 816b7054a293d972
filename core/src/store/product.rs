//! Products: what an order is for. The category drives policy (save card, deactivate on paid).

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, ConnectionTrait};
use serde::Serialize;

use crate::domain::ProductNamed;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub category: String,
    pub currency: String,
    #[serde(skip)]
    pub created_at: DateTime<Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The product as an order's checks take it.
    fn named(&self) -> ProductNamed {
        ProductNamed::Found {
            id: self.id.clone(),
            currency: self.currency.clone(),
        }
    }
}

/// The product categories paylink knows. Policy settings name these.
pub const CATEGORIES: [&str; 5] = ["monthly", "tournament", "jersey", "tryout", "generic"];

/// Inserts a product and returns it.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    name: &str,
    category: &str,
    currency: &str,
) -> Result<Model, DbErr> {
    let model = Model {
        id: super::new_id("prd"),
        name: name.to_owned(),
        category: category.to_owned(),
        currency: currency.to_owned(),
        created_at: Utc::now(),
    };
    ActiveModel {
        id: Set(model.id.clone()),
        name: Set(model.name.clone()),
        category: Set(model.category.clone()),
        currency: Set(model.currency.clone()),
        created_at: Set(model.created_at),
    }
    .insert(db)
    .await?;
    Ok(model)
}

/// Products newest first (ties by id, so pages never overlap): `limit` of them after skipping
/// `offset`. The API's `GET /v1/products` pages through these; the dashboard can list them too.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    offset: u64,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    Entity::find()
        .order_by_desc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await
}

/// Every product of `category`, oldest first (the first of a duplicated name is the one named).
pub async fn in_category<C: ConnectionTrait>(db: &C, category: &str) -> Result<Vec<Model>, DbErr> {
    use sea_orm::QueryOrder;
    Entity::find()
        .filter(Column::Category.eq(category))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await
}

/// Finds a product by id.
pub async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<Model>, DbErr> {
    if !super::could_be_key(id) {
        return Ok(None);
    }
    Entity::find_by_id(id.to_owned()).one(db).await
}

/// The currency of the newest product (what the doctor's test links charge in); `None` when
/// there is no product yet.
pub async fn newest_currency<C: ConnectionTrait>(db: &C) -> Result<Option<String>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    Entity::find()
        .select_only()
        .column(Column::Currency)
        .order_by_desc(Column::CreatedAt)
        .limit(1)
        .into_tuple()
        .one(db)
        .await
}

/// The product `reference` names: the one with that id, else the one with that name as
/// [`name_key`] compares names (case and spacing aside), so an organiser's sheet may say
/// `Monthly fee` rather than `prd_…` (docs/api.md, "Billing blasts").
pub async fn find_by_id_or_name<C: ConnectionTrait>(
    db: &C,
    reference: &str,
) -> Result<ProductNamed, DbErr> {
    if let Some(found) = find(db, reference).await? {
        return Ok(found.named());
    }
    Ok(resolve(&all(db).await?, reference))
}

/// Every product, by id. A deployment has few; names are compared in Rust ([`resolve`]).
pub async fn all<C: ConnectionTrait>(db: &C) -> Result<Vec<Model>, DbErr> {
    use sea_orm::QueryOrder;
    Entity::find().order_by_asc(Column::Id).all(db).await
}

/// What `reference` names among `products` (read by [`all`]): the product with that id, else
/// those with that name by [`name_key`]. Compared here rather than in SQL: SQLite's `LOWER`
/// folds ASCII only, so `Équipe` would be found on PostgreSQL alone.
pub fn resolve(products: &[Model], reference: &str) -> ProductNamed {
    if let Some(found) = products.iter().find(|p| p.id == reference) {
        return found.named();
    }
    let key = name_key(reference);
    if !super::could_be_key(&key) {
        return ProductNamed::Missing;
    }
    let mut named: Vec<&Model> = products
        .iter()
        .filter(|p| name_key(&p.name) == key)
        .collect();
    match named.len() {
        0 => ProductNamed::Missing,
        1 => named.remove(0).named(),
        _ => ProductNamed::Ambiguous(named.into_iter().map(|p| p.id.clone()).collect()),
    }
}

/// A product name as paylink compares names: lower case, runs of spaces as one, none at the
/// ends (`Monthly dues` and `  monthly   DUES `). Two products of one category may not share it
/// (crate::products), and a blast row may name a product by it.
pub fn name_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}
