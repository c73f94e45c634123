//! Business hours and availability (SPEC section 14). Admins set the hours
//! (`PUT /business-hours`), staff read them; the widget asks `GET /availability`, with
//! no token, before it offers the queue: outside the hours, or with nobody online who
//! could take the chat, it offers to leave a message instead.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{delete, get, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::client::ClientInfo;
use super::later::Later;
use super::rate_limit::client_key;
use crate::actors::messages::dispatcher::CheckAvailability;
use crate::auth::Caller;
use crate::db;
use crate::domain::inputs;
use crate::error::{Error, ErrorResponse, Result};
use crate::hours::{BusinessHours, BusinessHoursDoc, Openness};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
struct BusinessHoursBody {
    /// Null when no hours were set: the chat is always open.
    business_hours: Option<BusinessHoursDoc>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AvailabilityQuery {
    /// The skills the chat would ask for, comma-separated (`billing,tax`).
    skills: Option<String>,
    /// The language the chat would ask for (`de`).
    language: Option<String>,
}

/// Why a chat cannot start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum Unavailable {
    /// Outside business hours for the asked skills.
    OutsideHours,
    /// Within hours, but no specialist online has every asked skill and the language.
    NobodyOnline,
}

#[derive(Serialize, ToSchema)]
struct Availability {
    /// Whether a chat started now would join the queue with someone to answer it.
    open: bool,
    /// Only when closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<Unavailable>,
    /// Only outside hours: when they open next (absent when they never do).
    #[serde(skip_serializing_if = "Option::is_none")]
    next_open_at: Option<DateTime<Utc>>,
    /// Only when open: the expected wait of a chat joining the queue now, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    estimated_wait_secs: Option<u64>,
    /// After this long in the queue the widget offers to leave a message instead.
    leave_message_after_secs: u64,
}

/// The business hours in force; specialists and admins.
#[utoipa::path(
    operation_id = "get_business_hours",
    context_path = "/api/v1",
    tag = "admin",
    responses(
        (status = 200, body = BusinessHoursBody),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Specialists and admins only", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/business-hours")]
async fn show(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse> {
    caller.require_staff()?;
    let current = state.hours.current(&state.db).await?;
    Ok(HttpResponse::Ok().json(BusinessHoursBody {
        business_hours: current.map(|hours| hours.to_doc()),
    }))
}

/// Replaces the business hours; admins only. Answers them as stored, normalised.
#[utoipa::path(
    operation_id = "set_business_hours",
    context_path = "/api/v1",
    tag = "admin",
    request_body = BusinessHoursDoc,
    responses(
        (status = 200, body = BusinessHoursBody),
        (status = 400, description = "Invalid hours", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Admins only", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[put("/business-hours")]
async fn replace(
    caller: Caller,
    state: web::Data<AppState>,
    body: Later<web::Json<BusinessHoursDoc>>,
) -> Result<HttpResponse> {
    caller.require_admin()?;
    let admin = caller.require_staff()?;
    let hours = BusinessHours::parse(&body.take()?.into_inner())?;
    let doc = hours.to_doc();
    let stored = serde_json::to_value(&doc).expect("business hours serialize");
    state
        .db
        .run(move |conn| Ok(db::business_hours::store(conn, &stored, admin)?))
        .await?;
    state.hours.replace(Some(Arc::new(hours))).await;
    log::info!("business hours set by {caller}");
    Ok(HttpResponse::Ok().json(BusinessHoursBody {
        business_hours: Some(doc),
    }))
}

/// Removes the business hours, so the chat is always open again; admins only.
#[utoipa::path(
    operation_id = "remove_business_hours",
    context_path = "/api/v1",
    tag = "admin",
    responses(
        (status = 200, body = BusinessHoursBody),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Admins only", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[delete("/business-hours")]
async fn remove(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse> {
    caller.require_admin()?;
    state
        .db
        .run(|conn| Ok(db::business_hours::remove(conn)?))
        .await?;
    state.hours.replace(None).await;
    log::info!("business hours removed by {caller}");
    Ok(HttpResponse::Ok().json(BusinessHoursBody {
        business_hours: None,
    }))
}

/// Whether a chat asking for these skills and language can start now; no
/// authentication (the widget asks before offering the queue).
#[utoipa::path(
    operation_id = "check_availability",
    context_path = "/api/v1",
    tag = "identities",
    params(AvailabilityQuery),
    responses(
        (status = 200, body = Availability),
        (status = 400, description = "Invalid skills or language", body = ErrorResponse),
        (status = 429, description = "Too many checks from this address", body = ErrorResponse,
            headers(("Retry-After" = u64, description = "Seconds until the next check passes"))),
    )
)]
#[get("/availability")]
async fn availability(
    client: ClientInfo,
    state: web::Data<AppState>,
    query: web::Query<AvailabilityQuery>,
) -> Result<HttpResponse> {
    state.limiters.availability(client_key(client.ip))?;
    let (skills, language) = asked(&query)?;
    let leave_message_after_secs = state.config.leave_message_after_secs;
    let openness = state.hours.openness(&state.db, &skills, Utc::now()).await?;
    let answer = match openness {
        Openness::Closed { next_open_at } => Availability {
            open: false,
            reason: Some(Unavailable::OutsideHours),
            next_open_at,
            estimated_wait_secs: None,
            leave_message_after_secs,
        },
        Openness::Open => {
            let online = state
                .dispatcher
                .send(CheckAvailability { skills, language })
                .await
                .map_err(Error::internal)??;
            let open = online.fitting_online > 0;
            Availability {
                open,
                reason: (!open).then_some(Unavailable::NobodyOnline),
                next_open_at: None,
                estimated_wait_secs: online.estimated_wait_secs.filter(|_| open),
                leave_message_after_secs,
            }
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}

/// The skills and language of the query, checked as `session.start` checks them.
fn asked(query: &AvailabilityQuery) -> Result<(Vec<String>, Option<String>)> {
    let listed: Vec<String> = query
        .skills
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|skill| !skill.is_empty())
        .map(str::to_owned)
        .collect();
    let skills = inputs::skills("skills", &listed)?;
    let language = match query.language.as_deref().map(str::trim) {
        Some(language) if !language.is_empty() => {
            inputs::languages("language", &[language.to_owned()])?.pop()
        }
        _ => None,
    };
    Ok((skills, language))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show)
        .service(replace)
        .service(remove)
        .service(availability);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(skills: Option<&str>, language: Option<&str>) -> AvailabilityQuery {
        AvailabilityQuery {
            skills: skills.map(str::to_owned),
            language: language.map(str::to_owned),
        }
    }

    #[test]
    fn asked_skills_and_language_are_normalised_like_a_session_starts() {
        let (skills, language) = asked(&query(Some(" Billing,tax,,billing"), Some("DE"))).unwrap();
        assert_eq!(skills, vec!["billing", "tax"]);
        assert_eq!(language.as_deref(), Some("de"));
        assert_eq!(asked(&query(Some(""), Some(" "))).unwrap(), (vec![], None));
        assert!(asked(&query(Some("no spaces"), None)).is_err());
        assert!(asked(&query(None, Some("d3"))).is_err());
    }
}
