//! Canned responses (`canned_responses`): a specialist's own snippets (`owner_id` set) and
//! the shared ones (`owner_id` null). Every query here is scoped to what one specialist
//! may see, so another specialist's own responses cannot leak through any of them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use super::schema::canned_responses;
use crate::domain::{CannedResponseId, SpecialistId};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = canned_responses)]
pub struct CannedResponse {
    pub id: CannedResponseId,
    /// `None` for a shared response.
    pub owner_id: Option<SpecialistId>,
    pub shortcut: String,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A change to a response; `None` fields stay as they are.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = canned_responses)]
pub struct CannedResponseChanges {
    pub shortcut: Option<String>,
    pub title: Option<String>,
    pub body: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// The responses `viewer` may see: their own and the shared ones.
fn visible_to(
    viewer: SpecialistId,
) -> Box<dyn BoxableExpression<canned_responses::table, diesel::pg::Pg, SqlType = Bool>> {
    Box::new(
        canned_responses::owner_id
            .eq(viewer)
            .or(canned_responses::owner_id.is_null())
            .assume_not_null(),
    )
}

/// The viewer's own and the shared responses, by shortcut; with `query`, only those whose
/// shortcut starts with it or whose title or body contains all of its words.
pub fn list(
    conn: &mut PgConnection,
    viewer: SpecialistId,
    query: Option<&str>,
) -> QueryResult<Vec<CannedResponse>> {
    let mut select = canned_responses::table
        .filter(visible_to(viewer))
        .select(CannedResponse::as_select())
        .order((
            canned_responses::shortcut.asc(),
            canned_responses::owner_id.asc(),
        ))
        .into_boxed();
    if let Some(query) = query.map(str::trim).filter(|q| !q.is_empty()) {
        let prefix = format!("{}%", escape_like(&query.to_lowercase()));
        // The `simple` configuration keeps words as written (no stemming, no stop
        // words), so a search for a word finds exactly that word.
        let words = diesel::dsl::sql::<Bool>(
            "to_tsvector('simple', title || ' ' || body) @@ plainto_tsquery('simple', ",
        )
        .bind::<Text, _>(query.to_owned())
        .sql(")");
        select = select.filter(
            canned_responses::shortcut
                .like(prefix)
                .escape('\\')
                .or(words),
        );
    }
    select.load(conn)
}

fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// One response, if `viewer` may see it.
pub fn find(
    conn: &mut PgConnection,
    viewer: SpecialistId,
    id: CannedResponseId,
) -> QueryResult<Option<CannedResponse>> {
    canned_responses::table
        .find(id)
        .filter(visible_to(viewer))
        .select(CannedResponse::as_select())
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut PgConnection, new: &CannedResponse) -> QueryResult<CannedResponse> {
    diesel::insert_into(canned_responses::table)
        .values(new)
        .returning(CannedResponse::as_returning())
        .get_result(conn)
}

pub fn update(
    conn: &mut PgConnection,
    id: CannedResponseId,
    changes: &CannedResponseChanges,
) -> QueryResult<CannedResponse> {
    diesel::update(canned_responses::table.find(id))
        .set(changes)
        .returning(CannedResponse::as_returning())
        .get_result(conn)
}

pub fn delete(conn: &mut PgConnection, id: CannedResponseId) -> QueryResult<()> {
    diesel::delete(canned_responses::table.find(id)).execute(conn)?;
    Ok(())
}
